"""Token refresh: when it happens, that it happens once, and what a failure does to the account."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from prometheus_client import REGISTRY
from time_machine import TimeMachineFixture

from accounts import oauth, tokens
from accounts.models import Account, HealthState
from accounts.pool import pool
from tests.accounts.conftest import oauth_calls, refreshes, token_requests
from tests.conftest import FakeUpstream
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ensure_fresh = async_to_sync(tokens.ensure_fresh)
refresh = async_to_sync(tokens.refresh)


@pytest.fixture
def frozen(time_machine: TimeMachineFixture) -> TimeMachineFixture:
    time_machine.move_to(NOW, tick=False)
    return time_machine


def expiring(name: str = "work", *, seconds_left: int = 60, **fields: Any) -> Account:
    return make_oauth_account(name=name, expires_at=NOW + timedelta(seconds=seconds_left), **fields)


def raw_tokens(account: Account) -> str:
    with connection.cursor() as cursor:
        table = Account._meta.db_table
        cursor.execute(
            f"SELECT access_token, refresh_token FROM {table} WHERE name = %s", [account.name]
        )
        return repr(cursor.fetchone())


def test_fresh_token_is_used_without_touching_the_database(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, django_assert_num_queries: Any
) -> None:
    account = expiring(seconds_left=301)

    with django_assert_num_queries(0):
        token = ensure_fresh(account)

    assert token == "sk-ant-oat01-work-access-secret"
    assert refreshes(oauth_upstream) == 0


def test_token_within_the_margin_is_refreshed_and_saved_before_use(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring(seconds_left=300)

    token = ensure_fresh(account)

    issued = oauth_calls(oauth_upstream)["issued"][0]
    stored = Account.objects.get(pk=account.pk)
    assert token == issued["access_token"] == stored.access_token == account.access_token
    assert stored.refresh_token == issued["refresh_token"] == account.refresh_token
    assert stored.expires_at == NOW + timedelta(seconds=28800)
    assert stored.refresh_lease_until is None
    assert issued["access_token"] not in raw_tokens(account)
    assert oauth_calls(oauth_upstream)["refresh_counts"] == {"sk-ant-ort01-work-refresh-secret": 1}


def test_margin_is_a_setting(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, settings: Any
) -> None:
    settings.TOKEN_REFRESH_MARGIN_SECONDS = 30
    account = expiring(seconds_left=60)

    ensure_fresh(account)

    assert refreshes(oauth_upstream) == 0


def test_token_without_expiry_is_refreshed(oauth_upstream: FakeUpstream) -> None:
    account = make_oauth_account(name="manual", expires_at=None)
    Account.objects.filter(pk=account.pk).update(expires_at=None)
    account.refresh_from_db()

    ensure_fresh(account)

    assert refreshes(oauth_upstream) == 1


def test_long_lived_and_api_key_accounts_are_never_refreshed(oauth_upstream: FakeUpstream) -> None:
    long_lived = make_oauth_account(
        name="ci", kind=Account.Kind.SETUP_TOKEN, refresh_token=None, expires_at=NOW
    )
    # Key accounts with an expired date and a refresh token left over: still never refreshed.
    api_key = make_account(
        name="key", api_key="sk-ant-api03-k", refresh_token="sk-ant-ort01-k", expires_at=NOW
    )
    console = make_account(
        name="console",
        kind=Account.Kind.CONSOLE,
        api_key="sk-ant-api03-c",
        refresh_token="sk-ant-ort01-c",
        expires_at=NOW,
    )

    assert ensure_fresh(long_lived) == "sk-ant-oat01-ci-access-secret"
    ensure_fresh(api_key)
    ensure_fresh(console)
    assert refreshes(oauth_upstream) == 0
    assert Account.objects.get(pk=api_key.pk).refresh_token == "sk-ant-ort01-k"


def test_concurrent_callers_share_one_refresh(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring(seconds_left=-10)
    # Some callers hold the pool's object, some an older copy of the same row.
    copies = [account] * 15 + [Account.objects.get(pk=account.pk) for _ in range(5)]

    async def burst() -> set[str]:
        return set(await asyncio.gather(*(tokens.ensure_fresh(a) for a in copies)))

    seen = async_to_sync(burst)()

    assert refreshes(oauth_upstream) == 1
    assert seen == {oauth_calls(oauth_upstream)["issued"][0]["access_token"]}


def test_waiting_for_another_process_adopts_its_tokens(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring(seconds_left=-10)
    # Another process holds the lease, and saves its refresh after a moment.
    Account.objects.filter(pk=account.pk).update(refresh_lease_until=NOW + timedelta(seconds=30))

    async def other_process_finishes() -> None:
        await asyncio.sleep(0.2)
        await Account.objects.filter(pk=account.pk).aupdate(
            access_token="sk-ant-oat01-from-the-other-process",
            refresh_token="sk-ant-ort01-from-the-other-process",
            expires_at=NOW + timedelta(hours=8),
            refresh_lease_until=None,
        )

    async def race() -> str:
        token, _ = await asyncio.gather(tokens.ensure_fresh(account), other_process_finishes())
        return token

    token = async_to_sync(race)()

    assert token == "sk-ant-oat01-from-the-other-process"
    assert account.refresh_token == "sk-ant-ort01-from-the-other-process"
    assert refreshes(oauth_upstream) == 0


def test_an_expired_lease_of_a_crashed_process_is_taken_over(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring(seconds_left=-10)
    Account.objects.filter(pk=account.pk).update(refresh_lease_until=NOW - timedelta(seconds=1))

    ensure_fresh(account)

    assert refreshes(oauth_upstream) == 1


def test_refresh_after_a_401_uses_a_token_another_request_saved(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring(seconds_left=3600)
    Account.objects.filter(pk=account.pk).update(access_token="sk-ant-oat01-newer")

    token = refresh(account, reason="401")

    assert token == "sk-ant-oat01-newer"
    assert refreshes(oauth_upstream) == 0


def test_forced_refresh_rotates_even_a_fresh_token(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring(seconds_left=3600)

    refresh(account, reason="admin", force=True)

    assert refreshes(oauth_upstream) == 1
    assert account.access_token == oauth_calls(oauth_upstream)["issued"][0]["access_token"]


def test_unrotated_refresh_token_is_kept(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring()
    body = {"access_token": "sk-ant-oat01-not-rotated", "expires_in": 3600}
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", body=body, times=1)

    ensure_fresh(account)

    stored = Account.objects.get(pk=account.pk)
    assert stored.access_token == "sk-ant-oat01-not-rotated"
    assert stored.refresh_token == "sk-ant-ort01-work-refresh-secret"


def test_rejected_refresh_token_needs_reauth_and_is_not_retried(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring()
    oauth_upstream.add_rule(
        credential="*",
        path="/v1/oauth/token",
        status=400,
        body={"error": "invalid_grant", "error_description": "Refresh token revoked"},
    )

    with pytest.raises(tokens.NeedsReauth, match="refresh token rejected: Refresh token revoked"):
        ensure_fresh(account)
    with pytest.raises(tokens.NeedsReauth):
        ensure_fresh(Account.objects.get(pk=account.pk))

    stored = Account.objects.get(pk=account.pk)
    health = stored.health(NOW)
    assert health.state == HealthState.NEEDS_REAUTH
    assert "Refresh token revoked" in health.reason
    assert account.health(NOW).state == HealthState.NEEDS_REAUTH  # the pool's copy too
    assert token_requests(oauth_upstream) == 1
    assert stored.refresh_lease_until is None


def test_401_from_the_token_endpoint_needs_reauth(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring()
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=401, times=1)

    with pytest.raises(tokens.NeedsReauth):
        ensure_fresh(account)


CLOUDFLARE_BLOCK = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    "<body><h1>Sorry, you have been blocked</h1></body></html>"
)


@pytest.mark.parametrize("status", [401, 403])
def test_a_page_in_front_of_the_token_endpoint_is_a_failure_not_a_rejection(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, status: int
) -> None:
    # Was "needs re-auth" for good: the status alone condemned a refresh token the
    # endpoint never saw, and no account came back without a new login.
    account = expiring(seconds_left=-10)
    oauth_upstream.add_rule(
        credential="*", path="/v1/oauth/token", status=status, body=CLOUDFLARE_BLOCK, times=1
    )

    with pytest.raises(tokens.RefreshFailed, match=rf"token refresh failed: .*HTTP {status}"):
        ensure_fresh(account)

    stored = Account.objects.get(pk=account.pk)
    assert stored.health(NOW).state == HealthState.COOLING_DOWN
    frozen.move_to(stored.cooldown_until, tick=False)
    ensure_fresh(stored)
    assert Account.objects.get(pk=account.pk).health(datetime.now(UTC)).state == HealthState.OK


def test_failed_refresh_cools_down_longer_each_time_up_to_the_cap(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, settings: Any
) -> None:
    settings.COOLDOWN_BASE_SECONDS, settings.COOLDOWN_MAX_SECONDS = 10, 30
    account = expiring(seconds_left=-10)
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=503)
    delays = []
    for _ in range(4):
        with pytest.raises(tokens.RefreshFailed, match="token refresh failed"):
            ensure_fresh(account)
        stored = Account.objects.get(pk=account.pk)
        delays.append((stored.cooldown_until - datetime.now(UTC)).total_seconds())
        frozen.move_to(stored.cooldown_until, tick=False)

    assert delays == [10, 20, 30, 30]
    assert token_requests(oauth_upstream) == 4
    assert Account.objects.get(pk=account.pk).health(datetime.now(UTC)).state == HealthState.OK


def test_refresh_that_failed_elsewhere_waits_for_the_cooldown_unless_forced(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring(seconds_left=-10)
    Account.objects.filter(pk=account.pk).update(
        cooldown_until=NOW + timedelta(seconds=10), cooldown_reason="token refresh failed: boom"
    )

    with pytest.raises(tokens.RefreshFailed, match="boom"):
        ensure_fresh(account)
    assert refreshes(oauth_upstream) == 0

    refresh(account, reason="admin", force=True)
    stored = Account.objects.get(pk=account.pk)
    assert (stored.cooldown_until, stored.failure_streak) == (None, 0)
    assert refreshes(oauth_upstream) == 1


def test_successful_refresh_clears_needs_reauth(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    account = expiring(reauth_reason="refresh token rejected: flaky endpoint")

    refresh(account, reason="admin", force=True)

    assert Account.objects.get(pk=account.pk).health(NOW).state == HealthState.OK


def refresh_metric(outcome: str) -> float:
    value = REGISTRY.get_sample_value("ccflare_token_refreshes_total", {"outcome": outcome})
    return value or 0.0


def test_refresh_outcomes_are_counted_for_metrics(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    ok_before, rejected_before = refresh_metric("ok"), refresh_metric("rejected")
    ensure_fresh(expiring("one"))
    oauth_upstream.add_rule(
        credential="*", path="/v1/oauth/token", status=400, body={"error": "invalid_grant"}
    )
    with pytest.raises(tokens.NeedsReauth):
        ensure_fresh(expiring("two"))

    assert refresh_metric("ok") == ok_before + 1
    assert refresh_metric("rejected") == rejected_before + 1


# The database failing the refresh (read-only, locked, gone) -------------------------------


@pytest.fixture(autouse=True)
def database_state_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the process knows of the database's failures starts afresh with each test."""
    monkeypatch.setattr(tokens, "_database", tokens._DatabaseState())


@pytest.mark.django_db(transaction=True)
def test_a_database_refusing_writes_keeps_a_token_that_has_not_expired(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, refuse_writes: Callable[[], None]
) -> None:
    account = expiring(seconds_left=60)
    refuse_writes()

    token = ensure_fresh(account)

    # Still valid for a minute: used as it is, and the endpoint not called (no lease).
    assert token == "sk-ant-oat01-work-access-secret"
    assert refreshes(oauth_upstream) == 0


def refused_refresh(refuse_writes: Callable[[], None]) -> Account:
    """An expired account whose refresh a database refusing writes has just failed."""
    account = expiring(seconds_left=-5)
    refuse_writes()
    with pytest.raises(tokens.DatabaseAway):
        ensure_fresh(account)
    return account


@pytest.mark.django_db(transaction=True)
def test_an_expired_token_with_the_database_refusing_writes_moves_the_request_on(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, refuse_writes: Callable[[], None]
) -> None:
    refused_refresh(refuse_writes)  # raised DatabaseAway

    assert refreshes(oauth_upstream) == 0


@pytest.mark.django_db(transaction=True)
def test_refresh_works_again_once_the_database_takes_writes(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, refuse_writes: Callable[[], None]
) -> None:
    # The connection that failed is dropped, so the next refresh opens one that can
    # write: before, a connection opened read-only during an outage made every
    # refresh fail until a restart.
    account = refused_refresh(refuse_writes)

    frozen.shift(tokens.DATABASE_RETRY_SECONDS + 1)
    token = ensure_fresh(account)

    assert token == oauth_calls(oauth_upstream)["issued"][0]["access_token"]
    assert Account.objects.get(pk=account.pk).access_token == token


@pytest.mark.django_db(transaction=True)
def test_after_a_database_failure_refreshes_wait_before_trying_it_again(
    oauth_upstream: FakeUpstream,
    frozen: TimeMachineFixture,
    django_assert_num_queries: Any,
    refuse_writes: Callable[[], None],
) -> None:
    # A locked database makes each try wait its busy timeout: requests must not each pay it.
    account = refused_refresh(refuse_writes)

    with django_assert_num_queries(0), pytest.raises(tokens.DatabaseAway):
        ensure_fresh(account)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="a SQLite trigger fails the write")
def test_tokens_issued_when_the_database_then_fails_are_kept_and_written_later(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture
) -> None:
    # The endpoint has already rotated the refresh token: losing the new one with the
    # failed write would leave the account needing a new login.
    account = expiring(seconds_left=-5)
    table = Account._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TRIGGER no_tokens BEFORE UPDATE OF access_token ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )

    token = ensure_fresh(account)

    issued = oauth_calls(oauth_upstream)["issued"][0]
    assert token == issued["access_token"] == account.access_token
    assert account.refresh_token == issued["refresh_token"]
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER no_tokens")
    pool.flush_sync()
    stored = Account.objects.get(pk=account.pk)
    assert (stored.access_token, stored.refresh_token) == (token, issued["refresh_token"])


def test_a_failed_refresh_of_a_token_that_still_works_keeps_the_account_serving(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The token endpoint's 500 benched an account with four minutes of working token
    # (the only one in the audit's pool: every request then failed).
    monkeypatch.setattr(tokens, "_retries", tokens._RetryPause())
    account = expiring(seconds_left=240)
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=500)

    first, second = ensure_fresh(account), ensure_fresh(account)

    assert first == second == "sk-ant-oat01-work-access-secret"
    stored = Account.objects.get(pk=account.pk)
    assert (stored.cooldown_until, stored.failure_streak) == (None, 0)
    assert account.health(NOW).state == HealthState.OK
    assert token_requests(oauth_upstream) == 1  # the second waits for the retry pause

    monkeypatch.setattr(tokens, "VALID_TOKEN_RETRY_SECONDS", 0.0)
    tokens._retries.pause(account.pk)
    ensure_fresh(account)
    assert token_requests(oauth_upstream) == 2


@pytest.mark.parametrize("copies", [False, True], ids=["one-object", "copies-of-the-row"])
def test_a_slow_token_endpoint_does_not_hold_requests_while_the_token_works(
    oauth_upstream: FakeUpstream,
    frozen: TimeMachineFixture,
    monkeypatch: pytest.MonkeyPatch,
    copies: bool,
) -> None:
    # The pool reads a new copy of each row every second. Each copy began a refresh of
    # its own: every request waited its own 2 s, and after the slow one failed the next
    # copy's asked the endpoint again at once, its retry pause unread.
    monkeypatch.setattr(tokens, "_retries", tokens._RetryPause())
    monkeypatch.setattr(tokens, "VALID_TOKEN_WAIT_SECONDS", 0.05)
    account = expiring(seconds_left=240)
    rows = [account, *(Account.objects.get(pk=account.pk) if copies else account for _ in "ab")]
    oauth_upstream.add_rule(
        credential="*", path="/v1/oauth/token", scenario="gated_stream", gate="token", times=1
    )

    async def requests_meanwhile() -> list[str]:
        sent = [await tokens.ensure_fresh(row) for row in rows]
        # Only now does the endpoint answer (a stream, not a token: the refresh fails).
        await asyncio.to_thread(oauth_upstream.release, "token")
        await asyncio.to_thread(oauth_upstream.release, "token")
        await _refreshes_ended()
        return sent

    sent = async_to_sync(requests_meanwhile)()

    assert sent == ["sk-ant-oat01-work-access-secret"] * 3
    assert token_requests(oauth_upstream) == 1
    assert Account.objects.get(pk=account.pk).cooldown_until is None
    # Its failure, which no request waited for, still spaces out the next try.
    assert ensure_fresh(account) == "sk-ant-oat01-work-access-secret"
    assert token_requests(oauth_upstream) == 1


def test_an_expired_token_waits_for_its_refresh_a_lease_at_most(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hung database (or endpoint) must not hold the request for ever: it moves on.
    monkeypatch.setattr(tokens, "LEASE", timedelta(seconds=0.05))
    account = expiring(seconds_left=-10)
    oauth_upstream.add_rule(
        credential="*", path="/v1/oauth/token", scenario="gated_stream", gate="token"
    )

    async def request_then_answer() -> str:
        try:
            await tokens.ensure_fresh(account)
        except tokens.RefreshFailed as error:
            outcome = str(error)
        await asyncio.to_thread(oauth_upstream.release, "token")
        await asyncio.to_thread(oauth_upstream.release, "token")
        await _refreshes_ended()
        return outcome

    assert async_to_sync(request_then_answer)() == "the token refresh did not finish in time"


async def _refreshes_ended() -> None:
    running = tokens._tasks.get(asyncio.get_running_loop(), {}).values()
    await asyncio.gather(*(task for task, *_ in running), return_exceptions=True)


@pytest.mark.parametrize(
    ("reason", "benched"),
    [
        ("command", False),  # `refresh_tokens` or the admin's button on a token good for hours
        ("401", True),  # the upstream said the token does not work: its expiry proves nothing
    ],
)
def test_an_asked_refresh_that_fails_benches_the_account_only_after_a_401(
    oauth_upstream: FakeUpstream, frozen: TimeMachineFixture, reason: str, benched: bool
) -> None:
    account = expiring(seconds_left=8 * 3600)
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=500)

    with pytest.raises(tokens.RefreshFailed, match="token refresh failed"):
        refresh(account, reason=reason, force=reason != "401")

    cooldown = Account.objects.get(pk=account.pk).cooldown_until
    assert cooldown == (NOW + timedelta(seconds=10) if benched else None)


@pytest.mark.parametrize("endpoint", ["rejects", "answers"])
def test_a_login_while_a_refresh_is_in_flight_wins_over_its_outcome(
    frozen: TimeMachineFixture, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    # The user logged in again while the old refresh token was at the endpoint. Its late
    # invalid_grant put the fresh login in "needs re-auth"; its late tokens replaced the
    # login's with the old chain's.
    account = expiring(seconds_left=-5)
    login = {"access_token": "sk-ant-oat01-new-login", "refresh_token": "sk-ant-ort01-new-login"}

    async def refresh_grant(*, refresh_token: str) -> oauth.TokenGrant:
        await Account.objects.filter(pk=account.pk).aupdate(
            **login, expires_at=NOW + timedelta(hours=8), reauth_reason=""
        )
        if endpoint == "rejects":
            raise oauth.GrantRejected("Refresh token not found or invalid (HTTP 400)")
        return oauth.TokenGrant("sk-ant-oat01-old-chain", "sk-ant-ort01-old-chain", None)

    monkeypatch.setattr(oauth, "refresh_grant", refresh_grant)

    assert ensure_fresh(account) == "sk-ant-oat01-new-login"
    stored = Account.objects.get(pk=account.pk)
    assert (stored.access_token, stored.refresh_token) == tuple(login.values())
    assert stored.reauth_reason == "" and account.health(NOW).state == HealthState.OK
