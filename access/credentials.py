"""Creating, revoking and checking API tokens and client keys.

Shared by the management commands, the admin and the API auth, so every entry
point applies the same rules. The proxy's per-request check lives in
`access.clientkeys` (cached, no query per request), not here.
"""

from datetime import datetime, timedelta
from typing import TypeVar

from django.db import IntegrityError, transaction
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

_C = TypeVar("_C", bound=Credential)

# Last use is written at most this often per token: an API client polling every
# second must not turn every read into a write.
LAST_USE_PRECISION = timedelta(seconds=60)


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


def authenticate_token(secret: str) -> ApiToken | None:
    """The live API token with this secret, or None; records its use lazily."""
    token = ApiToken.objects.filter(secret_hash=hash_secret(secret), revoked_at=None).first()
    if token is not None:
        _touch(token, timezone.now())
    return token


def touch_client_keys(last_used: dict[int, datetime]) -> None:
    """Record when each client key was last seen (called from the recorder's flush)."""
    for key_id, when in last_used.items():
        ClientKey.objects.filter(pk=key_id).update(last_used_at=when)


def _create(model: type[_C], *, name: str, prefix: str) -> tuple[_C, str]:
    name = name.strip()
    if not name or len(name) > 100:
        raise AccessError("Name must be 1-100 characters")
    secret = new_secret(prefix)
    credential = model(name=name)
    credential.set_secret(secret)
    try:
        with transaction.atomic():
            credential.save(force_insert=True)
    except IntegrityError:
        raise AccessError(f"An active {_label(model)} named '{name}' already exists") from None
    return credential, secret


def _revoke(model: type[_C], *, name: str) -> _C:
    # _default_manager: the checker knows no `objects` on the abstract Credential.
    credential = model._default_manager.filter(name=name, revoked_at=None).first()
    if credential is None:
        raise AccessError(f"No active {_label(model)} named '{name}'")
    credential.revoked_at = timezone.now()
    credential.save(update_fields=["revoked_at"])
    return credential


def _touch(token: ApiToken, now: datetime) -> None:
    if token.last_used_at is None or now - token.last_used_at > LAST_USE_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def _label(model: type[Credential]) -> str:
    return "API token" if model is ApiToken else "client key"
