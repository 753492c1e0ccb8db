"""Who may use ccflare: API tokens (for /api/ and /metrics) and client keys (for /v1/).

Both are stored as a SHA-256 hash plus a short display prefix: the secret itself is
shown once, when it is created, and never again. SHA-256 without a salt is enough
here because the secrets are 256 random bits, not passwords a dictionary could guess.
"""

import hashlib
import secrets

from django.db import models
from django.utils import timezone

API_TOKEN_PREFIX = "cct_"
CLIENT_KEY_PREFIX = "cck_"
# How much of the secret is kept in clear to tell keys apart in lists.
DISPLAY_CHARS = 10


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


class Credential(models.Model):
    """Fields and behaviour shared by API tokens and client keys."""

    name = models.CharField(max_length=100)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    display = models.CharField(max_length=20, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def set_secret(self, secret: str) -> None:
        self.secret_hash = hash_secret(secret)
        self.display = secret[:DISPLAY_CHARS] + "…"


class ApiToken(Credential):
    """A bearer token for the HTTP API and /metrics (scripts, status lines, scrapers)."""

    class Meta(Credential.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(revoked_at=None), name="one_live_token_per_name"
            )
        ]


class ClientKey(Credential):
    """A key a client sends to /v1/ (x-api-key or Bearer); each request records which one."""

    class Meta(Credential.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(revoked_at=None), name="one_live_key_per_name"
            )
        ]
