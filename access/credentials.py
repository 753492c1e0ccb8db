"""Creating, revoking and checking API tokens and client keys.

Shared by the management commands, the admin and the API auth, so every entry
point applies the same rules. The proxy's per-request check lives in
`access.clientkeys` (cached, no query per request), not here.
"""

import logging
from datetime import datetime, timedelta
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from access.models import (
    API_TOKEN_PREFIX,
    CLIENT_KEY_PREFIX,
    ApiToken,
    ClientKey,
    Credential,
    hash_secret,
    new_secret,
)
from lib import db_away, names

logger = logging.getLogger(__name__)

_C = TypeVar("_C", bound=Credential)

# Last use is written at most this often per token: an API client polling every
# second must not turn every read into a write.
LAST_USE_PRECISION = timedelta(seconds=60)
# How long noting a token's use waits for a lock held elsewhere (SQLite's busy timeout is 5 s).
TOUCH_LOCK_WAIT_SECONDS = 0.1


class AccessError(ValueError):
    """A request about tokens or keys that cannot be honoured; the message is user-facing."""


def create_api_token(*, name: str) -> tuple[ApiToken, str]:
    """A new API token and its secret (show it once: only its hash is kept)."""
    return _create(ApiToken, name=name, prefix=API_TOKEN_PREFIX)


def create_client_key(*, name: str) -> tuple[ClientKey, str]:
    """A new client key and its secret (show it once: only its hash is kept)."""
    return _create(ClientKey, name=name, prefix=CLIENT_KEY_PREFIX)


def revoke_api_token(*, name: str) -> ApiToken:
    return _revoke(ApiToken, name=name)


def revoke_client_key(*, name: str) -> ClientKey:
    return _revoke(ClientKey, name=name)


def rotate_client_key(*, name: str) -> tuple[ClientKey, str]:
    """A new secret for the live client key `name`; the old one stops working.

    The key stays the same row, so its budgets, model rules and recorded usage stay with
    it: revoking and creating the name again starts a new key without them.
    """
    key = ClientKey.objects.filter(name=name, revoked_at=None).first()
    if key is None:
        raise AccessError(f"No active client key named '{name}'")
    secret = new_secret(CLIENT_KEY_PREFIX)
    key.set_secret(secret)
    if not ClientKey.objects.filter(pk=key.pk, revoked_at=None).update(
        secret_hash=key.secret_hash, display=key.display
    ):
        # Revoked (or deleted) meanwhile: a secret printed for it would never work.
        raise AccessError(f"No active client key named '{name}'")
    return key, secret


def live_api_tokens() -> QuerySet[ApiToken]:
    """The API tokens that still let a client in: those not revoked."""
    return ApiToken.objects.filter(revoked_at=None)


def authenticate_token(secret: str) -> ApiToken | None:
    """The live API token with this secret, or None; records its use lazily."""
    token = live_api_tokens().filter(secret_hash=hash_secret(secret)).first()
    if token is not None:
        _touch(token, timezone.now())
    return token


def touch_client_keys(last_used: dict[int, datetime]) -> None:
    """Record when each client key was last seen (called from the recorder's flush)."""
    for key_id, when in last_used.items():
        ClientKey.objects.filter(pk=key_id).update(last_used_at=when)


def _create(model: type[_C], *, name: str, prefix: str) -> tuple[_C, str]:
    # The accounts' rule: a name goes in API paths (/api/keys/NAME/...), terminal tables
    # and log lines, where a slash, a line break or an escape code does harm.
    try:
        name = names.clean_name(name)
    except ValidationError as error:
        raise AccessError(" ".join(error.messages)) from None
    secret = new_secret(prefix)
    credential = model(name=name)
    credential.set_secret(secret)
    try:
        with transaction.atomic():
            credential.save(force_insert=True)
    except IntegrityError:
        raise AccessError(f"An active {label(model)} named '{name}' already exists") from None
    return credential, secret


def _revoke(model: type[_C], *, name: str) -> _C:
    # _default_manager: the checker knows no `objects` on the abstract Credential.
    credential = model._default_manager.filter(name=name, revoked_at=None).first()
    if credential is None:
        raise AccessError(f"No active {label(model)} named '{name}'")
    credential.revoked_at = timezone.now()
    credential.save(update_fields=["revoked_at"])
    return credential


def _touch(token: ApiToken, now: datetime) -> None:
    """Note the token's use; a database that cannot take the write (a full disk, a lock
    held elsewhere) must neither turn every read of the API into a 500 nor hold it up for
    the busy timeout (5 s each): the note waits for a later request."""
    if token.last_used_at is None or now - token.last_used_at > LAST_USE_PRECISION:
        try:
            # A savepoint: an enclosing transaction stays usable.
            with db_away.lock_wait_at_most(TOUCH_LOCK_WAIT_SECONDS), transaction.atomic():
                ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        except DatabaseError as error:
            logger.warning("access.token_use_not_noted token=%s error=%s", token.name, error)
            return
        token.last_used_at = now


def label(model: type[Credential]) -> str:
    return "API token" if model is ApiToken else "client key"
