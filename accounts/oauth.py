"""Talking to Anthropic's OAuth endpoints (docs/compatibility.md): PKCE, authorize URL, grants.

The wire protocol only: no database here. Which account gets the tokens is
`accounts.onboarding`'s business, and when to refresh is `accounts.tokens`'.
Every URL is a setting (OAUTH_*), so tests point them at the fake upstream.
"""

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import validation
from lib import h1
from lib.numbers import finite_number
from lib.secret_headers import REDACTED

SCOPES = {
    "max": (
        "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload"
    ),
    "console": "org:create_api_key user:profile",
}
# The token endpoint answers in well under a second; a hung one must not hold
# a client request (and the refresh lease) for long.
TIMEOUT_SECONDS = 15.0
# The `anthropic-beta` flag every call with an OAuth access token carries.
BETA = "oauth-2025-04-20"
# What a token's lifetime is taken to be: unknown (not a number), and its bounds. The
# lower one stays clear of the refresh margin (5 minutes by default), so that even a
# token said to be expired already is refreshed at most every few minutes.
DEFAULT_LIFETIME_SECONDS = 3600.0
MIN_LIFETIME_SECONDS = 600.0
MAX_LIFETIME_SECONDS = 366 * 24 * 3600.0
# Secrets this long or longer are masked where an error message repeats them.
_MASKED_LENGTH = 8


class OAuthError(Exception):
    """The OAuth endpoint could not be reached or refused; the message is user-facing."""


class GrantRejected(OAuthError):
    """The endpoint rejected the code or refresh token itself (it will never work again)."""


class EndpointDown(OAuthError):
    """The endpoint itself failed (unreachable, a timeout, a 5xx or 429): nothing about the
    code or token, and every account that needs it meets the same failure."""


class OutOfResources(OAuthError):
    """This process could not open a connection to the endpoint (lib.h1.OutOfResources):
    nothing was sent, so nothing is known about the code or token."""

    def __init__(self, shortage: h1.OutOfResources) -> None:
        super().__init__(f"the proxy is out of local resources ({shortage})")
        self.shortage = shortage


@dataclass(frozen=True, slots=True)
class Pkce:
    verifier: str
    challenge: str


@dataclass(frozen=True, slots=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None


def new_pkce() -> Pkce:
    """32 random bytes as the verifier; the S256 challenge is its hashed form."""
    verifier = _b64url(secrets.token_bytes(32))
    return Pkce(verifier=verifier, challenge=challenge_for(verifier))


def challenge_for(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def new_state() -> str:
    # Not the verifier (which the original reused): the state travels in the URL
    # and back through the user's clipboard, the verifier must not.
    return _b64url(secrets.token_bytes(24))


def authorize_url(*, mode: str, challenge: str, state: str) -> str:
    """The URL the user opens to log in; raises ValueError for an unknown mode."""
    if mode not in SCOPES:
        raise ValueError(f"Unknown mode {mode!r}")
    if mode == "max":
        base = settings.OAUTH_AUTHORIZE_URL_MAX
    else:
        base = settings.OAUTH_AUTHORIZE_URL_CONSOLE
    query = {
        "code": "true",
        "client_id": settings.CLIENT_ID,
        "response_type": "code",
        "redirect_uri": settings.OAUTH_REDIRECT_URI,
        "scope": SCOPES[mode],
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
    }
    return f"{base}?{urlencode(query)}"


def parse_code(pasted: str) -> tuple[str, str | None]:
    """Split the pasted `<code>#<state>`; the state is None when only the code was pasted.

    Raises OAuthError when there is no code at all.
    """
    code, _, state = pasted.strip().partition("#")
    if not code.strip():
        raise OAuthError("Paste the whole code shown after logging in (it looks like abc…#xyz…)")
    return code.strip(), state.strip() or None


async def exchange_code(*, code: str, state: str, verifier: str) -> TokenGrant:
    """Trade an authorization code for tokens; raises OAuthError / GrantRejected."""
    body = {
        "code": code,
        "state": state,
        "grant_type": "authorization_code",
        "client_id": settings.CLIENT_ID,
        "redirect_uri": settings.OAUTH_REDIRECT_URI,
        "code_verifier": verifier,
    }
    return _grant(await _post_token(body))


async def refresh_grant(*, refresh_token: str) -> TokenGrant:
    """New tokens for a refresh token (which the endpoint may rotate); raises as exchange_code."""
    body = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": settings.CLIENT_ID,
    }
    return _grant(await _post_token(body))


async def create_api_key(*, access_token: str) -> str:
    """Create a permanent Console API key with a (console-mode) access token."""
    headers = [
        ("Authorization", f"Bearer {access_token}"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Accept", "application/json, text/plain, */*"),
    ]
    response = await _post(settings.OAUTH_CREATE_API_KEY_URL, headers)
    key = _json(response).get("raw_key")
    if response.status != 200 or not isinstance(key, str) or not key:
        message = _error_message(response, sent=[access_token])
        raise OAuthError(f"Creating the API key failed: {message}")
    _usable(key, "API key", validation.validate_api_key)
    return key


async def _post_token(body: dict[str, str]) -> dict[str, Any]:
    content_type, payload = h1.json_body(body)
    response = await _post(settings.OAUTH_TOKEN_URL, [content_type], payload)
    data = _json(response)
    if response.status == 200:
        return data
    sent = [body.get(name, "") for name in ("code", "code_verifier", "refresh_token")]
    message = _error_message(response, sent=sent)
    if _rejects_grant(response.status, data):
        raise GrantRejected(message)
    if response.status >= 500 or response.status == 429:
        raise EndpointDown(message)
    raise OAuthError(message)


def _rejects_grant(status: int, data: dict[str, Any]) -> bool:
    """Whether the token endpoint itself refused the code or refresh token for good.

    invalid_grant: the code or refresh token is used, revoked or expired; retrying the
    same one can never succeed. A 401/403 counts only as the endpoint's own error (JSON
    with an `error`): a page in front of it (Cloudflare's block or challenge page, a
    gateway's error) says nothing about the token, and read as a rejection it marked
    every Pro/Max account "needs re-auth" with its refresh token still good.
    """
    error = data.get("error")
    # Flat (OAuth's own shape, RFC 6749 §5.2) or nested (Anthropic's API error shape).
    kind = error.get("type") if isinstance(error, dict) else error
    if kind == "invalid_grant":
        return True
    return status in (401, 403) and bool(error)


async def _post(url: str, headers: list[tuple[str, str]], body: bytes = b"") -> h1.Reply:
    try:
        return await h1.fetch("POST", url, headers=headers, body=body, within=TIMEOUT_SECONDS)
    except h1.OutOfResources as exc:
        raise OutOfResources(exc) from None
    except (h1.UpstreamError, TimeoutError) as exc:
        # Only the error's class name: the message may carry the URL, never a credential.
        raise EndpointDown(f"OAuth endpoint unreachable ({type(exc).__name__})") from None


def _grant(data: dict[str, Any]) -> TokenGrant:
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError("The token endpoint answered without an access token")
    refresh = data.get("refresh_token")
    refresh = refresh if isinstance(refresh, str) and refresh else None
    _usable(access, "access token", validation.validate_token)
    if refresh is not None:
        _usable(refresh, "refresh token", validation.validate_token)
    expires_at = timezone.now() + timedelta(seconds=_lifetime(data.get("expires_in")))
    return TokenGrant(access, refresh, expires_at)


def _usable(value: str, label: str, validate: Callable[[str], None]) -> None:
    """Refuse a credential the proxy could not send: the rules a pasted one must pass.

    Stored, one with a line break failed the account's first request instead.
    """
    try:
        validate(value)
    except ValidationError as error:
        raise OAuthError(
            f"Anthropic's {label} cannot be used: {validation.message(error)}"
        ) from None


def _lifetime(expires_in: Any) -> float:
    """The token's lifetime in seconds, within bounds whatever the endpoint said.

    1e20 overflowed timedelta after the endpoint had issued (and rotated) the tokens, so
    they were lost; a negative one asked for a refresh on every request; a string left
    the expiry unknown. Anthropic's access tokens last 8 hours.
    """
    if not finite_number(expires_in):
        return DEFAULT_LIFETIME_SECONDS
    return min(max(float(expires_in), MIN_LIFETIME_SECONDS), MAX_LIFETIME_SECONDS)


def _json(response: h1.Reply) -> dict[str, Any]:
    try:
        data = response.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to decode
        return {}
    return data if isinstance(data, dict) else {}


def _error_message(response: h1.Reply, *, sent: list[str]) -> str:
    """As ccflare (docs/compatibility.md): error_description, else error, else the status text.

    The `sent` secrets (a refresh token, a code) are masked where the endpoint echoes
    them: the message becomes the account's health reason, which /health, the admin, the
    API, the commands and the webhook show.
    """
    data = _json(response)
    error = data.get("error")
    if isinstance(error, dict):  # Anthropic's API error shape
        error = error.get("message")
    detail = str(data.get("error_description") or error or response.reason)
    for secret in sent:
        if len(secret) >= _MASKED_LENGTH:  # a shorter one would mask ordinary words
            detail = detail.replace(secret, REDACTED)
    # And any other token or key it names (an access token, another account's).
    detail = _ANTHROPIC_SECRET.sub(REDACTED, detail)
    return f"{detail} (HTTP {response.status})"


_ANTHROPIC_SECRET = re.compile(r"sk-ant-[A-Za-z0-9_\-]{4,}")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
