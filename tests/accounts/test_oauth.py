"""The OAuth protocol (docs/compatibility.md): PKCE, the authorize URL, endpoints, on the fake."""

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from accounts import oauth
from tests.accounts.conftest import oauth_calls
from tests.conftest import FakeUpstream, header


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    pkce = oauth.new_pkce()

    digest = hashlib.sha256(pkce.verifier.encode()).digest()
    assert pkce.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert len(pkce.verifier) == 43  # 32 bytes, base64url without padding
    assert oauth.new_pkce().verifier != pkce.verifier


def test_state_is_random_and_not_the_verifier() -> None:
    pkce, state = oauth.new_pkce(), oauth.new_state()

    assert state != pkce.verifier
    assert state != oauth.new_state()
    assert len(state) >= 32


def test_max_authorize_url_has_spec_parameters(settings: Any) -> None:
    url = oauth.authorize_url(mode="max", challenge="the-challenge", state="the-state")

    assert url.startswith(settings.OAUTH_AUTHORIZE_URL_MAX + "?")
    assert url.startswith("https://claude.com/cai/oauth/authorize?")
    assert query(url) == {
        "code": "true",
        "client_id": "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        "response_type": "code",
        "redirect_uri": "https://platform.claude.com/oauth/code/callback",
        "scope": "user:profile user:inference user:sessions:claude_code user:mcp_servers "
        "user:file_upload",
        "code_challenge": "the-challenge",
        "code_challenge_method": "S256",
        "state": "the-state",
    }


def test_console_authorize_url_asks_to_create_api_keys() -> None:
    url = oauth.authorize_url(mode="console", challenge="c", state="s")

    assert url.startswith("https://platform.claude.com/oauth/authorize?")
    assert query(url)["scope"] == "org:create_api_key user:profile"


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown mode"):
        oauth.authorize_url(mode="team", challenge="c", state="s")


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("abc123#state456", ("abc123", "state456")),
        ("  abc123#state456\n", ("abc123", "state456")),
        ("abc123", ("abc123", None)),
        ("abc123#", ("abc123", None)),
    ],
)
def test_pasted_code_is_split_at_the_hash(pasted: str, expected: tuple) -> None:
    assert oauth.parse_code(pasted) == expected


def test_pasted_code_without_code_is_refused() -> None:
    with pytest.raises(oauth.OAuthError, match="Paste the whole code"):
        oauth.parse_code("  #state")


async def test_code_exchange_posts_json_and_returns_tokens(
    oauth_upstream: FakeUpstream, settings: Any
) -> None:
    grant = await oauth.exchange_code(code="the-code", state="the-state", verifier="the-verifier")

    assert grant.access_token.startswith("sk-ant-oat01-fake-")
    assert grant.refresh_token.startswith("sk-ant-ort01-fake-")
    assert grant.expires_at is not None
    (entry,) = oauth_upstream.log()
    assert entry["path"] == "/v1/oauth/token"
    assert header(entry, "content-type") == "application/json"
    assert entry["json"] == {
        "code": "the-code",
        "state": "the-state",
        "grant_type": "authorization_code",
        "client_id": settings.CLIENT_ID,
        "redirect_uri": settings.OAUTH_REDIRECT_URI,
        "code_verifier": "the-verifier",
    }


async def test_a_used_code_is_rejected(oauth_upstream: FakeUpstream) -> None:
    await oauth.exchange_code(code="once", state="s", verifier="v")

    with pytest.raises(oauth.GrantRejected, match=r"Invalid 'code' in request. \(HTTP 400\)"):
        await oauth.exchange_code(code="once", state="s", verifier="v")


async def test_refresh_rotates_and_a_used_refresh_token_is_rejected(
    oauth_upstream: FakeUpstream,
) -> None:
    grant = await oauth.refresh_grant(refresh_token="rt-original")

    assert grant.refresh_token != "rt-original"
    with pytest.raises(oauth.GrantRejected, match="Refresh token not found or invalid"):
        await oauth.refresh_grant(refresh_token="rt-original")
    assert oauth_calls(oauth_upstream)["refresh_counts"] == {"rt-original": 2}


async def test_server_error_is_a_failure_not_a_rejection(oauth_upstream: FakeUpstream) -> None:
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=503, times=1)

    with pytest.raises(oauth.OAuthError, match=r"HTTP 503") as caught:
        await oauth.refresh_grant(refresh_token="rt")

    assert not isinstance(caught.value, oauth.GrantRejected)


@pytest.mark.parametrize("status", [400, 500])
async def test_an_error_that_echoes_the_refresh_token_does_not_repeat_it(
    oauth_upstream: FakeUpstream, status: int
) -> None:
    # The message is stored as the account's health reason, shown by /health (open), the
    # admin, the API and list_accounts, and sent to the webhook.
    refresh = "sk-ant-ort01-echoed-refresh-token"
    body = {"error": "invalid_grant", "error_description": f"Refresh token {refresh} is revoked"}
    oauth_upstream.add_rule(
        credential="*", path="/v1/oauth/token", status=status, body=body, times=1
    )

    with pytest.raises(oauth.OAuthError) as caught:
        await oauth.refresh_grant(refresh_token=refresh)

    assert str(caught.value) == f"Refresh token [REDACTED] is revoked (HTTP {status})"


async def test_an_error_naming_any_other_token_does_not_repeat_it(
    oauth_upstream: FakeUpstream,
) -> None:
    body = {"error": "server_error", "error_description": "boom for sk-ant-oat01-access-0005"}
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=500, body=body)

    with pytest.raises(oauth.OAuthError) as caught:
        await oauth.refresh_grant(refresh_token="sk-ant-ort01-the-sent-refresh-token")

    assert str(caught.value) == "boom for [REDACTED] (HTTP 500)"


async def test_an_error_that_echoes_the_code_or_verifier_does_not_repeat_them(
    oauth_upstream: FakeUpstream,
) -> None:
    message = "Bad code the-pasted-code for verifier the-pkce-verifier-value"
    body = {"error": "invalid_grant", "error_description": message}
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=400, body=body)

    with pytest.raises(oauth.GrantRejected) as caught:
        await oauth.exchange_code(
            code="the-pasted-code", state="s", verifier="the-pkce-verifier-value"
        )

    assert str(caught.value) == "Bad code [REDACTED] for verifier [REDACTED] (HTTP 400)"


async def test_invalid_grant_in_the_apis_nested_error_shape_is_a_rejection(
    oauth_upstream: FakeUpstream,
) -> None:
    # Read as a passing failure, the account cooled down and retried for ever.
    body = {"type": "error", "error": {"type": "invalid_grant", "message": "Token revoked"}}
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=400, body=body)

    with pytest.raises(oauth.GrantRejected):
        await oauth.refresh_grant(refresh_token="rt")


async def test_unreachable_endpoint_is_a_failure(settings: Any) -> None:
    settings.OAUTH_TOKEN_URL = "http://127.0.0.1:9/v1/oauth/token"  # discard port: refused

    with pytest.raises(oauth.OAuthError, match="unreachable"):
        await oauth.refresh_grant(refresh_token="rt")


async def test_refresh_without_rotation_keeps_no_refresh_token(
    oauth_upstream: FakeUpstream,
) -> None:
    body = {"access_token": "sk-ant-oat01-not-rotated", "expires_in": 3600}
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", body=body, times=1)

    grant = await oauth.refresh_grant(refresh_token="rt")

    assert (grant.access_token, grant.refresh_token) == ("sk-ant-oat01-not-rotated", None)


ACCESS, REFRESH = "sk-ant-oat01-new-access-token", "sk-ant-ort01-new-refresh-token"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("access_token", "sk-ant-oat01-odd\r\nX-Evil: 1"),  # a header of its own
        ("access_token", "x"),
        ("refresh_token", "sk-ant-ort01-with a space-in-it"),
    ],
)
async def test_a_token_the_proxy_could_not_send_is_refused_not_stored(
    oauth_upstream: FakeUpstream, field: str, value: str
) -> None:
    # Stored, the account's first request failed ("stored credential cannot be sent").
    body = {"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": 3600, field: value}
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", body=body, times=1)

    with pytest.raises(oauth.OAuthError, match="cannot be used: "):
        await oauth.refresh_grant(refresh_token="rt")


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        (28800, 28800),  # Anthropic's 8 hours, as given
        (1e20, oauth.MAX_LIFETIME_SECONDS),  # overflowed timedelta: the new tokens were lost
        (-5, oauth.MIN_LIFETIME_SECONDS),  # asked for a refresh on every request
        ("3600", oauth.DEFAULT_LIFETIME_SECONDS),  # left the expiry unknown
        (10**400, oauth.DEFAULT_LIFETIME_SECONDS),  # no float holds it: OverflowError
        (True, oauth.DEFAULT_LIFETIME_SECONDS),
        (None, oauth.DEFAULT_LIFETIME_SECONDS),
    ],
)
async def test_a_token_lifetime_is_kept_within_bounds_whatever_the_endpoint_says(
    oauth_upstream: FakeUpstream, expires_in: object, lifetime: float
) -> None:
    body = {"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": expires_in}
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", body=body, times=1)
    before = timezone.now()

    grant = await oauth.refresh_grant(refresh_token="rt")

    assert grant.refresh_token == REFRESH
    assert grant.expires_at is not None
    seconds = (grant.expires_at - before).total_seconds()
    assert lifetime <= seconds <= lifetime + 5


async def test_create_api_key_sends_the_access_token(oauth_upstream: FakeUpstream) -> None:
    key = await oauth.create_api_key(access_token="sk-ant-oat01-console")

    assert key == "sk-ant-api03-fake-0001"
    (entry,) = oauth_upstream.log()
    assert entry["path"] == "/api/oauth/claude_cli/create_api_key"
    assert header(entry, "authorization") == "Bearer sk-ant-oat01-console"
    assert header(entry, "content-type") == "application/x-www-form-urlencoded"
    assert header(entry, "accept") == "application/json, text/plain, */*"


async def test_create_api_key_failure_is_reported(oauth_upstream: FakeUpstream) -> None:
    oauth_upstream.add_rule(
        credential="*", path="/api/oauth/claude_cli/create_api_key", status=403, times=1
    )

    with pytest.raises(oauth.OAuthError, match=r"Creating the API key failed: .*HTTP 403"):
        await oauth.create_api_key(access_token="sk-ant-oat01-console")


async def test_create_api_key_failure_that_echoes_the_token_does_not_repeat_it(
    oauth_upstream: FakeUpstream,
) -> None:
    body = {"error": {"type": "permission_error", "message": f"Token {ACCESS} may not"}}
    oauth_upstream.add_rule(
        credential="*", path="/api/oauth/claude_cli/create_api_key", status=403, body=body
    )

    with pytest.raises(oauth.OAuthError) as caught:
        await oauth.create_api_key(access_token=ACCESS)

    assert str(caught.value) == "Creating the API key failed: Token [REDACTED] may not (HTTP 403)"


@pytest.mark.parametrize("raw_key", ["k", "sk-ant-api03-key\r\nX-Evil: 1"])
async def test_an_api_key_the_proxy_could_not_send_is_refused_not_stored(
    oauth_upstream: FakeUpstream, raw_key: str
) -> None:
    path = "/api/oauth/claude_cli/create_api_key"
    oauth_upstream.add_rule(credential="*", path=path, body={"raw_key": raw_key}, times=1)

    with pytest.raises(oauth.OAuthError, match="Anthropic's API key cannot be used: "):
        await oauth.create_api_key(access_token=ACCESS)
