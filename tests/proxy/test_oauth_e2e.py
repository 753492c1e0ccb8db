"""OAuth accounts end to end: token refresh under concurrency, across processes, and account health.

A real daphne (two, for the cross-process test) on the test database, the fake upstream
standing in for both the Messages API and the OAuth token endpoint.
"""

import asyncio
import signal
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts.models import Account, HealthState
from analytics.models import Request
from tests import servers
from tests.accounts.conftest import oauth_calls
from tests.conftest import FakeUpstream, ProxyServer, header, header_values, wait_for
from tests.factories import make_account, make_oauth_account
from tests.proxy.test_proxy_e2e import KEY_A, KEY_B, MESSAGE, database_text, post, recorded

# With the price table seeded: the server caches prices for a while, and an empty
# table cached here would leave the next test file's requests unpriced.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

ORIGINAL_REFRESH = "sk-ant-ort01-max-refresh-secret"


def expired_oauth_account(name: str = "max", **fields: object) -> Account:
    return make_oauth_account(
        name=name, expires_at=datetime.now(UTC) - timedelta(minutes=1), **fields
    )


def burst(urls: list[str]) -> list[httpx.Response]:
    """One concurrent POST /v1/messages per URL."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as http:
            calls = [http.post(f"{url}/v1/messages", json=MESSAGE) for url in urls]
            return await asyncio.gather(*calls)

    return asyncio.run(run())


def message_credentials(fake: FakeUpstream) -> list[str]:
    return [header(e, "authorization") for e in fake.log() if e["path"] == "/v1/messages"]


def outcomes(row: Request) -> list[str]:
    return [step["outcome"] for step in row.routing_trace]


def test_oauth_account_sends_its_bearer_with_the_beta_flag(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_oauth_account(name="max")

    headers = {"x-api-key": "client-own-key", "anthropic-beta": "prompt-caching-2024-07-31"}
    response = httpx.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers=headers)

    assert response.status_code == 200
    (entry,) = fake_upstream.log()
    assert header(entry, "authorization") == "Bearer sk-ant-oat01-max-access-secret"
    assert header(entry, "anthropic-beta") == "prompt-caching-2024-07-31,oauth-2025-04-20"
    assert header_values(entry, "x-api-key") == []
    assert oauth_calls(fake_upstream)["refresh_counts"] == {}


def test_twenty_concurrent_requests_on_an_expired_token_refresh_it_once(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    expired_oauth_account()

    responses = burst([proxy.url] * 20)

    assert [r.status_code for r in responses] == [200] * 20
    calls = oauth_calls(fake_upstream)
    assert calls["refresh_counts"] == {ORIGINAL_REFRESH: 1}
    new = calls["issued"][0]
    assert set(message_credentials(fake_upstream)) == {f"Bearer {new['access_token']}"}
    account = Account.objects.get(name="max")
    assert (account.access_token, account.refresh_token) == (
        new["access_token"],
        new["refresh_token"],
    )
    assert account.expires_at > datetime.now(UTC) + timedelta(hours=7)
    recorded(20)


def test_two_server_processes_on_one_database_refresh_once(
    proxy: ProxyServer, twin_proxy_server: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    expired_oauth_account()

    responses = burst([proxy.url, twin_proxy_server.url] * 10)

    assert [r.status_code for r in responses] == [200] * 20
    calls = oauth_calls(fake_upstream)
    assert calls["refresh_counts"] == {ORIGINAL_REFRESH: 1}
    assert set(message_credentials(fake_upstream)) == {
        f"Bearer {calls['issued'][0]['access_token']}"
    }
    assert Account.objects.get(name="max").refresh_lease_until is None


def test_revoked_refresh_token_needs_reauth_and_the_request_fails_over(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    expired_oauth_account(priority=0)
    make_account(name="backup", api_key=KEY_B, priority=1)
    fake_upstream.add_rule(
        credential="*",
        path="/v1/oauth/token",
        status=400,
        body={"error": "invalid_grant", "error_description": "Refresh token revoked"},
    )

    first = post(proxy)
    second = post(proxy)

    assert (first.status_code, first.headers["x-ccflare-account"]) == (200, "backup")
    assert second.headers["x-ccflare-account"] == "backup"
    account = Account.objects.get(name="max")
    health = account.health(datetime.now(UTC))
    assert health.state == HealthState.NEEDS_REAUTH
    assert "Refresh token revoked" in health.reason
    rows = sorted(recorded(2), key=lambda r: r.timestamp)
    assert outcomes(rows[0])[0].startswith("no usable token: refresh token rejected")
    assert outcomes(rows[0])[-1] == "served"
    assert outcomes(rows[1])[0].startswith("needs re-auth: refresh token rejected")
    token_calls = [e for e in fake_upstream.log() if e["path"] == "/v1/oauth/token"]
    assert len(token_calls) == 1  # the dead token is not tried again


def test_401_on_a_live_token_refreshes_once_and_succeeds(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_oauth_account(name="max")
    fake_upstream.add_rule(credential="sk-ant-oat01-max-access-secret", status=401, times=1)

    response = post(proxy)

    assert response.status_code == 200
    calls = oauth_calls(fake_upstream)
    assert calls["refresh_counts"] == {ORIGINAL_REFRESH: 1}
    assert message_credentials(fake_upstream) == [
        "Bearer sk-ant-oat01-max-access-secret",
        f"Bearer {calls['issued'][0]['access_token']}",
    ]
    (row,) = recorded(1)
    assert outcomes(row) == ["401: token refreshed, retried", "starts the session", "served"]
    assert row.status_code == 200


def test_a_late_401_of_a_token_already_replaced_asks_for_no_second_refresh(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # Both requests go out with the old token; the second's 401 comes after the first's
    # refresh. It refreshed again (each refresh rotates the refresh token, and a
    # rate-limited token endpoint then benched an account holding a good token).
    make_oauth_account(name="max")
    fake_upstream.add_rule(credential="sk-ant-oat01-max-access-secret", status=401)

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
            late = {"x-fake-delay-ms": "1500"}
            return await asyncio.gather(
                http.post("/v1/messages", json=MESSAGE),
                http.post("/v1/messages", json=MESSAGE, headers=late),
            )

    first, late = asyncio.run(run())

    assert (first.status_code, late.status_code) == (200, 200)
    assert oauth_calls(fake_upstream)["refresh_counts"] == {ORIGINAL_REFRESH: 1}


def test_api_key_rejected_with_401_needs_reauth_and_the_request_fails_over(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="alpha", api_key=KEY_A, priority=0)
    make_account(name="beta", api_key=KEY_B, priority=1)
    fake_upstream.add_rule(credential=KEY_A, status=401)

    response = post(proxy)

    assert response.headers["x-ccflare-account"] == "beta"
    reason = wait_for(lambda: Account.objects.get(name="alpha").reauth_reason)
    assert reason == "credential rejected by the upstream (HTTP 401)"
    (row,) = recorded(1)
    assert outcomes(row) == ["rejected with 401: needs re-auth", "starts the session", "served"]


def test_persistent_5xx_cools_the_account_down_and_later_requests_skip_it(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="alpha", api_key=KEY_A, priority=0)
    make_account(name="beta", api_key=KEY_B, priority=1)
    fake_upstream.add_rule(credential=KEY_A, status=500)

    first = post(proxy)
    # The cooldown reaches the database with the pool's next write-behind flush.
    wait_for(lambda: Account.objects.get(name="alpha").cooldown_until)
    alpha = Account.objects.get(name="alpha")
    second = post(proxy)

    assert first.headers["x-ccflare-account"] == second.headers["x-ccflare-account"] == "beta"
    assert alpha.health(datetime.now(UTC)).state == HealthState.COOLING_DOWN
    assert alpha.cooldown_reason == "HTTP 500 after retries while beta answered"
    assert alpha.failure_streak == 1
    rows = sorted(recorded(2), key=lambda r: r.timestamp)
    assert outcomes(rows[1])[0].startswith("cooling down until ")
    assert outcomes(rows[1])[0].endswith(": HTTP 500 after retries while beta answered")
    keys = [header(e, "x-api-key") for e in fake_upstream.log()]
    assert keys == [KEY_A, KEY_A, KEY_A, KEY_B, KEY_B]


def test_every_account_unusable_gives_503_naming_why_with_retry_after(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    until = datetime.now(UTC) + timedelta(seconds=40)
    make_account(name="hot", cooldown_until=until, cooldown_reason="network error (ConnectionLost)")
    make_account(name="dead", reauth_reason="credential rejected by the upstream (HTTP 401)")

    response = post(proxy)

    assert response.status_code == 503
    assert 30 <= int(response.headers["retry-after"]) <= 40
    message = response.json()["error"]["message"]
    assert "hot: cooling down until" in message
    assert "dead: needs re-auth: credential rejected by the upstream (HTTP 401)" in message
    assert fake_upstream.log() == []


def test_refreshed_tokens_never_appear_in_plain_text(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    expired_oauth_account()

    assert post(proxy).status_code == 200

    recorded(1)
    issued = oauth_calls(fake_upstream)["issued"][0]
    secrets = (
        "sk-ant-oat01-max-access-secret",
        ORIGINAL_REFRESH,
        issued["access_token"],
        issued["refresh_token"],
    )
    dump = database_text()
    for secret in secrets:
        assert secret not in dump
        assert secret not in proxy.server_log()


def test_a_token_endpoint_echoing_the_refresh_token_does_not_get_it_shown(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # The rejection's message is the account's health reason: /health shows it to anyone.
    expired_oauth_account(refresh_token=ORIGINAL_REFRESH)
    description = f"Refresh token {ORIGINAL_REFRESH} was revoked"
    fake_upstream.add_rule(
        credential="*",
        path="/v1/oauth/token",
        status=400,
        body={"error": "invalid_grant", "error_description": description},
    )

    answer = post(proxy)
    # The 503 names the account's state, so the client reads the reason too.
    assert answer.status_code == 503
    assert "Refresh token [REDACTED] was revoked" in answer.text
    assert ORIGINAL_REFRESH not in answer.text

    recorded(1)
    health = httpx.get(f"{proxy.url}/health")
    assert "Refresh token [REDACTED] was revoked" in health.text
    assert ORIGINAL_REFRESH not in health.text
    assert ORIGINAL_REFRESH not in database_text()


def test_a_stop_waits_for_a_token_refresh_still_running(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # A token near its expiry is refreshed while requests go on with it; the endpoint
    # rotates the refresh token at once and its answer takes 3 s. A SIGTERM then stopped
    # the server at once and cut the refresh: the new refresh token was never saved, the
    # old one was spent, and the account needed a new login.
    make_oauth_account(name="max", expires_at=datetime.now(UTC) + timedelta(minutes=2))
    fake_upstream.add_rule(credential="*", path="/v1/oauth/token", delay_ms=3000, times=1)
    process, port = servers.start_proxy_server(env=proxy.env)
    try:
        served = httpx.post(f"http://127.0.0.1:{port}/v1/messages", json=MESSAGE, timeout=30)
        assert served.status_code == 200  # with the old token, while the refresh goes on
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        servers.stop(process)

    (issued,) = oauth_calls(fake_upstream)["issued"]
    account = Account.objects.get(name="max")
    assert (account.access_token, account.refresh_token) == (
        issued["access_token"], issued["refresh_token"],
    )  # fmt: skip
