"""Encryption of credentials at rest: a Fernet key and a model field that uses it."""

import base64
import hashlib
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


@cache
def fernet() -> Fernet:
    """The process-wide Fernet, keyed by ENCRYPTION_KEY or derived from SECRET_KEY."""
    if settings.ENCRYPTION_KEY:
        return Fernet(settings.ENCRYPTION_KEY.encode())
    digest = hashlib.sha256(b"ccflare-credentials:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


class Unreadable(ValueError):
    """A stored credential was encrypted with another key than this process's."""


def decrypt(token: str) -> str:
    """Raises Unreadable (a ValueError) when the value was encrypted with another key."""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise Unreadable(
            "credential cannot be decrypted: was ENCRYPTION_KEY (or SECRET_KEY, without one) "
            "changed since it was saved?"
        ) from None


def mask(secret: str | None) -> str:
    """A display form that identifies a credential without revealing it."""
    if not secret:
        return ""
    return f"{secret[:7]}…{secret[-4:]}" if len(secret) > 16 else "…"


class EncryptedTextField(models.TextField):
    """A text column holding Fernet ciphertext; Python code only ever sees plain text."""

    def from_db_value(
        self, value: str | None, expression: object, connection: object
    ) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
