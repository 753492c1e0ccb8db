"""failover.forward in this process against the fake upstream: order, retries, failover, trace.

The same behaviour is tested end to end through daphne (test_proxy_e2e.py); these run the
code in the test process, where a mutation tool can see what they cover.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connections
from django.utils import timezone

import accounts.pool
from accounts.models import Account
from accounts.pool import pool
from proxy import attempts, failover, upstream
from tests import servers
from tests.conftest import FakeUpstream, account_state, fail_new_connections, header
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db(transaction=True)

KEY_A = "sk-ant-api03-failover-a-0001"
KEY_B = "sk-ant-api03-failover-b-0002"
BODY = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}).encode()


@pytest.fixture
async def fake(fake_upstream: FakeUpstream, settings: Any) -> AsyncIterator[FakeUpstream]:
    """forward() sends to the fake upstream; retries are quick; accounts read fresh."""
    settings.UPSTREAM_BASE_URL = fake_upstream.url
    settings.OAUTH_TOKEN_URL = f"{fake_upstream.url}/v1/oauth/token"
    settings.ACCOUNT_CACHE_SECONDS = 0
    settings.RETRY_ATTEMPTS = 2
    settings.RETRY_DELAY_MS = 1
    fake_upstream.reset()
    pool.invalidate()
    yield fake_upstream
    fake_upstream.reset()  # rules without `times` must not outlive the test
    await pool.flush()
    # Later tests in this process must not see this test's accounts in the snapshot.
    pool.invalidate()
    await upstream.close_session()
    # The pool's thread and sync_to_async's keep their database connections; a later
    # test session in this process (a mutation tool runs several) must not inherit them.
    await asyncio.get_running_loop().run_in_executor(accounts.pool._executor, connections.close_all)
    await sync_to_async(connections.close_all)()


# Stands for the proxy's own client key, which forward() is told to strip.
CLIENT_KEY_HEADER = (b"x-test-client-key", b"cck_never-forwarded")


async def forward(fake: FakeUpstream, *, model: str | None = None) -> failover.Outcome:
    headers = [
        (b"content-type", b"application/json"),
        (b"x-api-key", b"client-own-key"),
        CLIENT_KEY_HEADER,
    ]
    body = BODY if model is None else BODY.replace(b"claude-sonnet-4-6", model.encode())
    call = failover.Call("POST", f"{fake.url}/v1/messages", headers, body)
    outcome = await failover.forward(call, strip=frozenset({"x-test-client-key"}))
    if outcome.response is not None:
        outcome.response.release()
    return outcome


async def make(factory: Callable[..., Account], **fields: Any) -> Account:
    return await sync_to_async(factory)(**fields)


async def a_then_b() -> Account:
    """Accounts "a" (tried first) and "b"; returns "a"."""
    a = await make(make_account, name="a", api_key=KEY_A, priority=0)
    await make(make_account, name="b", api_key=KEY_B, priority=1)
    return a


async def stored(account: Account) -> Account:
    await pool.flush()
    return await Account.objects.aget(pk=account.pk)


def outcomes(outcome: failover.Outcome) -> list[tuple[str | None, str]]:
    return [(step["account"], step["outcome"]) for step in outcome.trace]


async def test_no_accounts_pass_the_clients_credentials_through(fake: FakeUpstream) -> None:
    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account) == (200, None)
    assert outcome.trace == [{"account": None, "outcome": "no accounts: client credentials"}]
    (entry,) = fake.log()
    assert header(entry, "x-api-key") == "client-own-key"
    assert header(entry, "x-test-client-key") is None


async def test_accounts_not_read_yet_are_a_503_not_the_clients_credentials_passed_through(
    fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker started while the database is away has no snapshot to keep: an empty one
    # read as "no accounts at all", and its requests went upstream with the client's own
    # credentials (a client key among them) instead of the pool's.
    await make(make_account, name="a", api_key=KEY_A)
    fresh = accounts.pool.AccountPool()

    def away() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(fresh, "_flush_and_load", away)
    monkeypatch.setattr(failover, "pool", fresh)

    outcome = await forward(fake)

    assert (outcome.response, outcome.status, outcome.error_type) == (None, 503, "api_error")
    assert "could not be read" in outcome.message
    assert fake.log() == []


async def test_a_rate_limited_account_is_benched_and_the_next_one_serves(
    fake: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    a = await a_then_b()
    fake.add_rule(credential=KEY_A, scenario="rate_limited", reset_in=600)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name, outcome.attempts) == (200, "b", 1)
    (benched, started, served) = outcomes(outcome)
    assert benched[0] == "a" and benched[1].startswith("rate-limited until ")
    assert (started, served) == (("b", "starts the session"), ("b", "served"))
    until = (await stored(a)).rate_limited_until
    assert timedelta(seconds=590) < until - timezone.now() <= timedelta(seconds=600)
    assert [header(entry, "x-api-key") for entry in fake.log()] == [KEY_A, KEY_B]
    assert [header(entry, "x-test-client-key") for entry in fake.log()] == [None, None]
    benched_at = until.isoformat()
    assert f"proxy.account_rate_limited account=a scope=account until={benched_at}" in caplog.text


async def test_a_served_answer_that_fills_the_window_is_relayed_and_benches_the_account(
    fake: FakeUpstream,
) -> None:
    a = await a_then_b()
    reset = int(timezone.now().timestamp()) + 3600
    full = {
        "anthropic-ratelimit-unified-5h-utilization": "1.0",
        "anthropic-ratelimit-unified-5h-reset": str(reset),
    }
    fake.add_rule(credential=KEY_A, status=200, headers=full)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (200, "a")
    assert len(fake.log()) == 1
    saved = await stored(a)
    assert saved.rate_limited_until.timestamp() == reset
    assert (saved.five_hour_utilization, saved.five_hour_reset.timestamp()) == (1.0, reset)
    assert saved.rate_limit_reset is not None and saved.seven_day_reset is not None


async def test_rate_limit_header_text_longer_than_its_column_is_cut_and_the_limit_is_kept(
    fake: FakeUpstream,
) -> None:
    # The status, claim and overage status are kept in 32-character columns. Whole, a
    # longer value (a claim name Anthropic adds later) was refused by PostgreSQL, and the
    # refused flush held back every account update of the process, this limit included:
    # the other workers and the dashboard never learned it.
    a = await a_then_b()
    reset = int(timezone.now().timestamp()) + 3600
    claim = "seven_day_claude_opus_4_5_extended_thinking"
    refused = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": str(reset),
        "anthropic-ratelimit-unified-representative-claim": claim,
        "anthropic-ratelimit-unified-overage-status": "rejected_because_of_a_long_reason",
    }
    fake.add_rule(credential=KEY_A, status=429, headers=refused)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (200, "b")
    saved = await stored(a)
    assert saved.rate_limited_until.timestamp() == reset
    assert saved.rate_limit_claim == claim[:32]
    assert saved.overage_status == "rejected_because_of_a_long_reaso"


async def test_a_known_family_cap_reported_on_another_models_answer_benches_that_family(
    fake: FakeUpstream,
) -> None:
    # A Sonnet call served while the Opus cap is full: the cap is Opus's, not Sonnet's
    # (only a family name no model has is booked under the request's own family).
    a = await make(make_account, name="a", api_key=KEY_A, priority=0)
    reset = str(int(timezone.now().timestamp()) + 3600)
    opus_full = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": reset,
        "anthropic-ratelimit-unified-representative-claim": "seven_day_opus",
    }
    fake.add_rule(credential=KEY_A, status=200, headers=opus_full)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (200, "a")
    saved = await stored(a)
    assert list(saved.model_limits) == ["opus"]
    assert saved.rate_limited_until is None


async def test_an_api_keys_429_without_a_unified_window_benches_only_that_model_family(
    fake: FakeUpstream,
) -> None:
    # Console keys' limits are kept per model class: the Sonnet limit full says nothing
    # about Opus. Before, the whole account sat out, and an Opus call got a 429 unasked.
    a = await make(make_account, name="a", api_key=KEY_A)
    per_minute = {"retry-after": "20", "anthropic-ratelimit-output-tokens-remaining": "0"}
    fake.add_rule(credential=KEY_A, model="sonnet", status=429, headers=per_minute)

    sonnet = await forward(fake)
    opus = await forward(fake, model="claude-opus-4-1")

    assert (sonnet.response, sonnet.status, sonnet.account.name) == (None, 429, "a")
    assert outcomes(sonnet)[0][1].startswith("its sonnet limit (model_rate_limit) is reached")
    assert (opus.response.status, opus.account.name) == (200, "a")
    assert len(fake.log()) == 2
    saved = await stored(a)
    assert saved.rate_limited_until is None
    assert list(saved.model_limits) == ["sonnet"]
    left = datetime.fromisoformat(saved.model_limits["sonnet"]["until"]) - timezone.now()
    assert timedelta(seconds=18) < left <= timedelta(seconds=20)


async def test_a_429_without_a_unified_window_for_a_model_of_no_family_benches_the_account(
    fake: FakeUpstream,
) -> None:
    a = await a_then_b()
    fake.add_rule(credential=KEY_A, status=429, headers={"retry-after": "20"})

    outcome = await forward(fake, model="some-future-model")

    assert (outcome.response.status, outcome.account.name) == (200, "b")
    saved = await stored(a)
    assert saved.rate_limited_until is not None and saved.model_limits == {}


async def test_overloaded_is_retried_in_place_then_relayed_and_benches_nobody(
    fake: FakeUpstream,
) -> None:
    a = await a_then_b()
    fake.add_rule(credential="*", status=529)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (529, "a")
    assert outcomes(outcome)[:2] == [("a", "status 529, retried"), ("a", "status 529, retried")]
    assert outcomes(outcome)[2][1].startswith("upstream overloaded (529) after 2 retries: relayed")
    assert "served" not in [words for _, words in outcomes(outcome)]  # it was an error
    # The first try and RETRY_ATTEMPTS=2, all on "a": an overload is nobody's to fail over.
    assert [header(entry, "x-api-key") for entry in fake.log()] == [KEY_A] * 3
    saved = await stored(a)
    assert (saved.failure_streak, saved.cooldown_until, saved.rate_limited_until) == (0, None, None)


async def test_a_5xx_moves_on_after_its_retries_and_a_later_success_clears_the_streak(
    fake: FakeUpstream,
) -> None:
    a = await make(make_account, name="a", api_key=KEY_A, priority=0)
    b = await make(make_account, name="b", api_key=KEY_B, priority=1, failure_streak=2)
    fake.add_rule(credential=KEY_A, status=503)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (200, "b")
    assert outcomes(outcome)[-4:] == [
        ("a", "server error 503 after 2 retries"),
        ("a", "cooling down: HTTP 503 after retries while b answered"),
        ("b", "starts the session"),
        ("b", "served"),
    ]
    # "b" was asked once, without retries, to learn whose fault the 503 was.
    assert [header(entry, "x-api-key") for entry in fake.log()] == [KEY_A] * 3 + [KEY_B]
    assert (await stored(a)).failure_streak == 1
    assert (await stored(b)).failure_streak == 0


async def test_requests_failing_together_on_one_account_sit_it_out_once(
    fake: FakeUpstream, settings: Any
) -> None:
    # Was: each of the burst's 5xx raised the streak, and the cooldown doubled per request.
    settings.COOLDOWN_BASE_SECONDS, settings.COOLDOWN_MAX_SECONDS = 30, 3600
    a = await make(make_account, name="a", api_key=KEY_A, priority=0)
    await make(make_account, name="b", api_key=KEY_B, priority=1)
    fake.add_rule(credential=KEY_A, status=503, delay_ms=150)  # all four in flight at once
    began = timezone.now()

    served = await asyncio.gather(*(forward(fake) for _ in range(4)))

    assert [(o.response.status, o.account.name) for o in served] == [(200, "b")] * 4
    saved = await stored(a)
    assert saved.failure_streak == 1
    assert (
        began + timedelta(seconds=29)
        < saved.cooldown_until
        < timezone.now() + timedelta(seconds=31)
    )


async def test_a_5xx_probe_that_finds_its_account_limited_asks_the_next_one(
    fake: FakeUpstream,
) -> None:
    # Was: the probe's 429 counted as "no answer either", the 500 was relayed and "c",
    # which would have served, was never asked.
    a = await make(make_account, name="a", api_key=KEY_A, priority=0)
    await make(make_account, name="b", api_key=KEY_B, priority=1)
    await make(make_account, name="c", api_key="sk-ant-api03-failover-c-0003", priority=2)
    fake.add_rule(credential=KEY_A, status=500)
    fake.add_rule(credential=KEY_B, scenario="rate_limited", reset_in=30)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (200, "c")
    assert ("a", "cooling down: HTTP 500 after retries while c answered") in outcomes(outcome)
    assert (await stored(a)).failure_streak == 1


async def test_a_5xx_every_account_gets_is_relayed_and_benches_nobody(fake: FakeUpstream) -> None:
    a = await make(make_account, name="a", api_key=KEY_A, priority=0)
    b = await make(make_account, name="b", api_key=KEY_B, priority=1)
    fake.add_rule(credential="*", status=500)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (500, "a")
    assert outcomes(outcome)[-2][1].startswith("failed too: an upstream-wide error, nobody benched")
    assert len(fake.log()) == 4
    for account in (a, b):
        assert (await stored(account)).cooldown_until is None


async def test_a_rejected_api_key_needs_reauth_and_the_last_accounts_401_is_relayed(
    fake: FakeUpstream,
) -> None:
    a = await a_then_b()
    fake.add_rule(credential="*", status=401)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (401, "b")
    assert outcomes(outcome) == [
        ("a", "rejected with 401: needs re-auth"),
        ("b", "rejected with 401: needs re-auth"),
        ("b", "starts the session"),
        ("b", "answered 401: relayed to the client"),
    ]
    assert (await stored(a)).reauth_reason == "credential rejected by the upstream (HTTP 401)"


async def test_a_401_page_from_something_in_front_of_the_api_condemns_no_account(
    fake: FakeUpstream,
) -> None:
    # A gateway's login page is no verdict on a key. Before, every account went to
    # "needs re-auth" on the one request, and stayed there when the page went away.
    a = await a_then_b()
    fake.add_rule(credential="*", status=401, body="<html><body>401 Authorization Required</body>")

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (401, "a")
    assert outcomes(outcome)[0] == (
        "a",
        "401 that is not the API's (no JSON): relayed, no account condemned",
    )
    assert len(fake.log()) == 1
    assert (await stored(a)).reauth_reason is None


async def test_an_oauth_401_refreshes_the_token_once_and_retries(fake: FakeUpstream) -> None:
    await make(make_oauth_account, name="max")
    fake.add_rule(credential="sk-ant-oat01-max-access-secret", status=401)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (200, "max")
    assert outcomes(outcome) == [
        ("max", "401: token refreshed, retried"),
        ("max", "starts the session"),
        ("max", "served"),
    ]
    sent = [e for e in fake.log() if e["path"] == "/v1/messages"]
    assert [header(e, "authorization") for e in sent] == [
        "Bearer sk-ant-oat01-max-access-secret",
        "Bearer sk-ant-oat01-fake-0001",
    ]
    assert [header(e, "x-test-client-key") for e in sent] == [None, None]


async def test_every_account_rate_limited_gives_429_with_the_first_reset(
    fake: FakeUpstream,
) -> None:
    soon = timezone.now() + timedelta(seconds=90)
    await make(make_account, name="a", api_key=KEY_A, rate_limited_until=soon)
    await make(make_account, name="b", api_key=KEY_B, rate_limited_until=soon + timedelta(hours=1))

    outcome = await forward(fake)

    assert outcome.response is None
    assert (outcome.status, outcome.error_type) == (429, "rate_limit_error")
    assert 89 <= outcome.retry_after <= 90
    assert outcome.message.startswith("All 2 usable accounts are rate-limited")
    assert fake.log() == []
    # Nothing was sent: the proxy's own refusal, on no account.
    assert (outcome.account, outcome.attempted, outcome.attempts) == (None, False, 0)


async def test_a_429_retry_after_counts_an_account_cooling_down_that_is_back_sooner(
    fake: FakeUpstream,
) -> None:
    # Was 18000: the client was told to wait out b's 5-hour window though a serves in 30 s.
    now = timezone.now()
    await make(make_account, name="a", api_key=KEY_A, cooldown_until=now + timedelta(seconds=30))
    await make(make_account, name="b", api_key=KEY_B, rate_limited_until=now + timedelta(hours=5))

    outcome = await forward(fake)

    assert (outcome.status, outcome.error_type) == (429, "rate_limit_error")
    assert 29 <= outcome.retry_after <= 30
    assert outcome.message.endswith(f"the first is back in {outcome.retry_after} s")


async def test_a_429_retry_after_waits_out_a_model_cap_that_outlasts_the_accounts_own_limit(
    fake: FakeUpstream,
) -> None:
    # Was 30: a's cooldown and b's 5-hour window end long before their sonnet caps, so a
    # client that retried then was refused again, and again until the caps reset.
    now = timezone.now()

    def sonnet_capped(hours: int) -> dict:
        until = (now + timedelta(hours=hours)).isoformat()
        return {"sonnet": {"until": until, "claim": "seven_day_sonnet"}}

    held = (
        ("a", KEY_A, 3, {"cooldown_until": now + timedelta(seconds=30)}),
        ("b", KEY_B, 2, {"rate_limited_until": now + timedelta(seconds=60)}),
    )
    for name, key, hours, state in held:
        await make(make_account, name=name, api_key=key, model_limits=sonnet_capped(hours), **state)

    outcome = await forward(fake)

    assert (outcome.status, outcome.error_type) == (429, "rate_limit_error")
    assert 7199 <= outcome.retry_after <= 7200
    assert fake.log() == []


async def test_a_429_says_which_accounts_are_rate_limited_and_which_capped_on_the_model(
    fake: FakeUpstream,
) -> None:
    # Was "All 3 usable accounts are rate-limited": two of them serve every other model.
    now = timezone.now()
    cap = {"sonnet": {"until": (now + timedelta(days=2)).isoformat(), "claim": "seven_day_sonnet"}}
    await make(make_account, name="a", api_key=KEY_A, rate_limited_until=now + timedelta(hours=1))
    await make(make_account, name="b", api_key=KEY_B, model_limits=cap)
    await make(make_account, name="c", api_key="sk-ant-api03-c", model_limits=cap)

    outcome = await forward(fake)

    assert (outcome.status, outcome.error_type) == (429, "rate_limit_error")
    assert outcome.message == (
        "All 3 usable accounts are held: 1 rate-limited, 2 at their sonnet limit "
        f"(other models are served); the first is back in {outcome.retry_after} s"
    )
    assert 3599 <= outcome.retry_after <= 3600
    assert fake.log() == []


async def test_every_account_limited_with_a_wait_of_zero_still_gives_429(
    fake: FakeUpstream,
) -> None:
    # Benched until the moment of the answer, each limit had run out by the end of the
    # walk: the client got 502 "All accounts failed" for what was a rate limit.
    await make(make_account, name="a", api_key=KEY_A, priority=0)
    await make(make_account, name="b", api_key=KEY_B, priority=1)
    rejected = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": "1000",
        "retry-after": "0",
    }
    fake.add_rule(credential="*", status=429, headers=rejected)

    outcome = await forward(fake)

    assert (outcome.response, outcome.status, outcome.error_type) == (None, 429, "rate_limit_error")
    assert (outcome.retry_after, outcome.attempts) == (1, 2)


async def test_a_429_on_the_last_account_left_fails_upstream_on_it(fake: FakeUpstream) -> None:
    await make(make_account, name="a", api_key=KEY_A, priority=0)
    await make(make_account, name="b", api_key=KEY_B, priority=1, paused=True)
    fake.add_rule(credential=KEY_A, scenario="rate_limited", reset_in=600)

    outcome = await forward(fake)

    assert (outcome.response, outcome.status) == (None, 429)
    assert (outcome.account.name, outcome.attempted, outcome.attempts) == ("a", True, 1)


async def test_no_usable_account_gives_503_naming_each_state(fake: FakeUpstream) -> None:
    cooling = timezone.now() + timedelta(seconds=30)
    resting = await make(make_account, name="resting", api_key=KEY_A, paused=True)
    sick = await make(make_account, name="sick", api_key=KEY_B, cooldown_until=cooling)

    outcome = await forward(fake)

    assert (outcome.response, outcome.status) == (None, 503)
    assert (outcome.account, outcome.attempted) == (None, False)
    assert outcome.message.startswith("No usable account (resting: paused; sick: cooling down")
    assert 29 <= outcome.retry_after <= 30
    assert outcome.trace == [
        {"account": "resting", "id": str(resting.pk), "outcome": "paused"},
        {
            "account": "sick",
            "id": str(sick.pk),
            "outcome": f"cooling down until {cooling.isoformat()}",
        },
    ]


def unreachable_call() -> failover.Call:
    """A call to a port nothing listens on: every send is a network error."""
    url = f"http://127.0.0.1:{servers.free_port()}/v1/messages"
    return failover.Call("POST", url, [(b"x-api-key", b"client-own-key")], BODY)


async def test_an_unreachable_upstream_in_passthrough_gives_502(fake: FakeUpstream) -> None:
    outcome = await failover.forward(unreachable_call())

    assert (outcome.response, outcome.status) == (None, 502)
    assert outcome.message == "Failed to forward unauthenticated request"
    assert (outcome.account, outcome.attempted) == (None, True)
    (passthrough, failed) = outcomes(outcome)
    assert passthrough == (None, "no accounts: client credentials")
    assert failed == (None, "failed: network error (ConnectionRefused); not retried")


async def test_an_upstream_silent_past_the_read_timeout_is_a_network_error(
    fake: FakeUpstream, settings: Any
) -> None:
    settings.UPSTREAM_READ_TIMEOUT_SECONDS = 0.2
    await upstream.close_session()  # the next pool reads the setting
    headers = [(b"x-api-key", b"client-own-key"), (b"x-fake-delay-ms", b"2000")]
    call = failover.Call("POST", f"{fake.url}/v1/messages", headers, BODY)

    started = asyncio.get_running_loop().time()
    outcome = await failover.forward(call)

    assert asyncio.get_running_loop().time() - started < 1.5
    assert (outcome.response, outcome.status) == (None, 502)
    assert outcomes(outcome)[1] == (None, "failed: network error (ReadTimeout); not retried")


async def test_network_errors_every_account_gets_stop_after_one_move_and_cool_nobody(
    fake: FakeUpstream,
) -> None:
    a = await make(make_account, name="a", api_key=KEY_A, priority=0)
    b = await make(make_account, name="b", api_key=KEY_B, priority=1)
    await make(make_account, name="c", api_key=KEY_B + "-c", priority=2)

    outcome = await failover.forward(unreachable_call())

    assert (outcome.response, outcome.status) == (None, 502)
    assert outcome.message == "All accounts failed to proxy the request (2 attempted)"
    assert (outcome.account, outcome.attempted, outcome.attempts) == (b, True, 2)
    assert outcomes(outcome) == [
        ("a", "failed: network error (ConnectionRefused); next account"),
        ("b", "failed: network error (ConnectionRefused); not retried"),
    ]
    for account in (a, b):
        saved = await stored(account)
        assert (saved.failure_streak, saved.cooldown_until) == (0, None)


async def test_a_network_error_only_one_account_gets_cools_it_down(fake: FakeUpstream) -> None:
    a = await make(make_oauth_account, name="a", priority=0)
    await make(make_account, name="b", api_key=KEY_B, priority=1)
    fake.add_rule(credential="sk-ant-oat01-a-access-secret", scenario="drop_before_headers")

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (200, "b")
    assert outcomes(outcome)[0][1].startswith("failed: network error (")
    saved = await stored(a)
    assert saved.failure_streak == 1
    assert saved.cooldown_reason.startswith("network error (")


async def test_a_network_error_then_an_overload_elsewhere_cools_nobody(
    fake: FakeUpstream,
) -> None:
    # The next account's 529 shows the upstream failing for everyone: the network error
    # is no proof against "a", which used to cool down and lose the session.
    a = await a_then_b()
    fake.add_rule(credential=KEY_A, scenario="drop_before_headers")
    fake.add_rule(credential="*", status=529)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (529, "b")
    saved = await stored(a)
    assert (saved.failure_streak, saved.cooldown_until) == (0, None)


@pytest.fixture
async def out_of_descriptors(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Every new connection fails as in a process out of file descriptors (an indirect
    parameter lets that many through first)."""
    await upstream.close_session()  # an idle connection kept from before needs no socket
    fail_new_connections(monkeypatch, after=getattr(request, "param", 0))
    # A line logged by an earlier test must not hold back this test's.
    throttle = attempts._LogThrottle(attempts.OUT_OF_RESOURCES_LOG_SECONDS)
    monkeypatch.setattr(attempts, "_out_of_resources_log", throttle)


def out_of_resources_503(outcome: failover.Outcome, *, account: str, step: str) -> None:
    """The proxy's own 503: no account named, none but `account` tried, and why."""
    assert (outcome.response, outcome.status, outcome.error_type) == (None, 503, "api_error")
    assert outcome.retry_after == attempts.OUT_OF_RESOURCES_RETRY_SECONDS
    assert outcome.message.startswith(
        "The proxy is out of local resources (EMFILE: Too many open files)"
    )
    # Nobody's fault: the record names no account and counts no failover.
    assert (outcome.account, outcome.attempts, outcome.attempted) == (None, 0, True)
    assert outcomes(outcome) == [
        (
            account,
            f"{step}: the proxy is out of local resources (EMFILE: Too many open files); "
            "no account's fault, no other account tried",
        )
    ]


async def test_the_proxy_out_of_descriptors_is_a_503_that_blames_no_account_nor_tries_another(
    fake: FakeUpstream, out_of_descriptors: None
) -> None:
    a = await a_then_b()
    b = await Account.objects.aget(name="b")
    before = [account_state(a), account_state(b)]

    outcome = await forward(fake)

    out_of_resources_503(outcome, account="a", step="not sent")
    assert [account_state(await stored(a)), account_state(await stored(b))] == before
    assert fake.log() == []


async def oauth_then_b(**fields: Any) -> tuple[Account, Account]:
    """OAuth account "max" (tried first) and key account "b"."""
    first = await make(make_oauth_account, name="max", priority=0, **fields)
    return first, await make(make_account, name="b", api_key=KEY_B, priority=1)


async def test_an_expired_tokens_refresh_out_of_descriptors_is_the_same_503(
    fake: FakeUpstream, out_of_descriptors: None
) -> None:
    # The failed refresh cooled the account down, and the walk went on to the next one.
    pair = await oauth_then_b(expires_at=timezone.now() - timedelta(minutes=1))
    before = [account_state(a) for a in pair]

    outcome = await forward(fake)

    out_of_resources_503(outcome, account="max", step="token refresh not sent")
    # Nothing marked, and the refresh lease given back.
    assert [account_state(await stored(a)) for a in pair] == before
    assert fake.log() == []


@pytest.mark.parametrize("out_of_descriptors", [1], indirect=True)  # the call answered 401
async def test_a_refresh_after_a_401_out_of_descriptors_is_the_same_503(
    fake: FakeUpstream, out_of_descriptors: None
) -> None:
    # A failed refresh after a 401 cools the account down, unless the proxy itself is short.
    pair = await oauth_then_b()
    fake.add_rule(credential="sk-ant-oat01-max-access-secret", status=401)
    before = [account_state(a) for a in pair]

    outcome = await forward(fake)

    out_of_resources_503(outcome, account="max", step="401, then token refresh not sent")
    assert [account_state(await stored(a)) for a in pair] == before
    assert [entry["path"] for entry in fake.log()] == ["/v1/messages"]


async def test_the_proxy_out_of_descriptors_in_passthrough_is_a_503_too(
    fake: FakeUpstream, out_of_descriptors: None
) -> None:
    outcome = await forward(fake)

    assert (outcome.response, outcome.status, outcome.account) == (None, 503, None)
    assert outcome.retry_after == attempts.OUT_OF_RESOURCES_RETRY_SECONDS
    assert "out of local resources" in outcome.message


async def test_a_burst_out_of_descriptors_logs_one_error_line_not_one_a_request(
    fake: FakeUpstream, out_of_descriptors: None, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        await forward(fake)

    lines = [r for r in caplog.records if r.getMessage().startswith("proxy.out_of_resources")]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in lines] == [
        (
            "ERROR",
            "proxy.out_of_resources error=EMFILE: Too many open files failed_requests=1",
            None,
        )
    ]


def test_the_next_line_after_a_quiet_spell_counts_the_requests_it_stands_for() -> None:
    throttle = attempts._LogThrottle(every=10.0)

    seen = [throttle.due(now) for now in (100.0, 101.0, 105.0, 110.0, 111.0)]

    assert seen == [1, None, None, 3, None]


async def test_passthrough_relays_the_upstreams_5xx_after_its_retries(fake: FakeUpstream) -> None:
    fake.add_rule(credential="client-own-key", status=529)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account) == (529, None)
    assert len(fake.log()) == 3


async def test_an_oauth_401_again_after_the_refresh_cools_down_and_is_relayed(
    fake: FakeUpstream,
) -> None:
    account = await make(make_oauth_account, name="max")
    fake.add_rule(credential="*", status=401)

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (401, "max")
    assert outcomes(outcome) == [
        ("max", "401: token refreshed, retried"),
        ("max", "401 again after the refresh: cooling down"),
        ("max", "starts the session"),
        ("max", "answered 401: relayed to the client"),
    ]
    saved = await stored(account)
    assert saved.cooldown_reason == "HTTP 401 with a freshly refreshed token"
    assert saved.cooldown_until > timezone.now()
    assert saved.failure_streak == 1  # not reset by the 401 it relays


async def test_no_usable_account_and_none_coming_back_gives_503_without_retry_after(
    fake: FakeUpstream,
) -> None:
    await make(make_account, name="resting", api_key=KEY_A, paused=True)

    outcome = await forward(fake)

    assert (outcome.response, outcome.status) == (None, 503)
    assert outcome.message == "No usable account (resting: paused)"
    assert outcome.retry_after is None


async def test_an_overload_after_the_refresh_is_retried_and_benches_nobody(
    fake: FakeUpstream,
) -> None:
    account = await make(make_oauth_account, name="max")
    fake.add_rule(credential="sk-ant-oat01-max-access-secret", status=401)
    fake.add_rule(credential="sk-ant-oat01-fake-0001", status=529)  # the refreshed token

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.account.name) == (529, "max")
    steps = outcomes(outcome)
    assert steps[:3] == [
        ("max", "401: token refreshed, retried"),
        ("max", "status 529, retried"),
        ("max", "status 529, retried"),
    ]
    assert steps[3][1].startswith("upstream overloaded (529) after 2 retries: relayed")
    assert (await stored(account)).cooldown_until is None


def test_retry_delays_grow_by_the_backoff_factor(settings: Any) -> None:
    settings.RETRY_DELAY_MS, settings.RETRY_BACKOFF = 1000, 2.0

    assert [attempts.backoff_seconds(retry) for retry in range(3)] == [1.0, 2.0, 4.0]
    # Requests that failed together come back apart: each wait is cut by up to a quarter.
    assert attempts.backoff_seconds(2, jitter=0.5) == 3.5


async def test_an_error_the_upstream_says_not_to_retry_is_relayed_at_once(
    fake: FakeUpstream,
) -> None:
    await make(make_account, name="a", api_key=KEY_A)
    fake.add_rule(credential="*", status=529, headers={"x-should-retry": "false"})

    outcome = await forward(fake)

    assert outcome.response.status == 529
    assert len(fake.log()) == 1  # was: RETRY_ATTEMPTS more, against the upstream's word
    assert outcomes(outcome)[0][1].startswith("upstream overloaded (529) after 0 retries")


async def test_retries_wait_out_retry_after_only_up_to_a_total(
    fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: each retry waited its retry-after in full, three of 10 s kept a client 30 s.
    monkeypatch.setattr(attempts, "MAX_RETRY_WAIT_SECONDS", 1.5)
    await make(make_account, name="a", api_key=KEY_A)
    fake.add_rule(credential="*", status=529, headers={"retry-after": "1"})

    outcome = await forward(fake)

    assert outcome.response.status == 529
    assert len(fake.log()) == 2  # one retry after 1 s; a second would wait past 1.5 s
    assert outcomes(outcome)[1][1].startswith("upstream overloaded (529) after 1 retries")


async def test_after_an_upstream_incident_the_account_that_met_it_keeps_its_session(
    fake: FakeUpstream,
) -> None:
    # Was: as an incident ended, "b" answered the probe of "a"'s last 5xx, and "a" was
    # benched for an error every account had shared: the session moved to "b" for good.
    a = await make(
        make_account,
        name="a",
        api_key=KEY_A,
        priority=0,
        session_start=timezone.now(),
        holds_session=True,
    )
    b = await make(make_account, name="b", api_key=KEY_B, priority=1)
    fake.add_rule(credential="*", status=503, times=4)  # a's try and retries, b's probe
    shared = await forward(fake)
    fake.add_rule(credential=KEY_A, status=503, times=3)  # a's share of its tail

    ended = await forward(fake)

    assert shared.response.status == 503
    assert (ended.response.status, ended.account.name) == (200, "b")
    assert ("a", "not benched: other accounts answered 5xx lately, an upstream incident") in (
        outcomes(ended)
    )
    saved_a, saved_b = await stored(a), await stored(b)
    assert (saved_a.cooldown_until, saved_a.failure_streak) == (None, 0)
    assert (saved_a.holds_session, saved_b.holds_session) == (True, False)


def test_retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() -> None:
    now = timezone.now()

    assert failover._seconds_until(now + timedelta(milliseconds=200), now) == 1
    assert failover._seconds_until(now + timedelta(seconds=90, milliseconds=1), now) == 91
    assert failover._seconds_until(now - timedelta(seconds=5), now) == 1


async def test_a_new_session_is_recorded_and_a_live_one_is_kept(fake: FakeUpstream) -> None:
    first = await make(make_account, name="a", api_key=KEY_A, session_request_count=7)
    await forward(fake)
    saved = await stored(first)
    started = saved.session_start
    assert saved.holds_session
    # "b" took the conversation over after "a" started it.
    await Account.objects.filter(pk=first.pk).aupdate(holds_session=False)
    live = await make(
        make_account,
        name="b",
        api_key=KEY_B,
        priority=9,
        session_start=timezone.now(),
        holds_session=True,
    )
    pool.invalidate()
    sticky = await forward(fake)

    saved = await stored(first)
    assert timezone.now() - started < timedelta(minutes=1)
    assert saved.session_request_count == 0
    assert (sticky.account.pk, saved.session_start) == (live.pk, started)


@pytest.mark.parametrize(
    ("expires_in", "traced", "sent"),
    [
        (timedelta(hours=1), "401, then no usable token: ", True),
        (-timedelta(minutes=1), "no usable token: ", False),
    ],
    ids=["refused-after-a-401", "refused-when-expired"],
)
async def test_an_oauth_account_whose_refresh_is_refused_is_traced_and_passed(
    fake: FakeUpstream, expires_in: timedelta, traced: str, sent: bool
) -> None:
    account = await make(make_oauth_account, name="max", expires_at=timezone.now() + expires_in)
    fake.add_rule(credential="sk-ant-oat01-max-access-secret", status=401)
    refused = {"error": "invalid_grant", "error_description": "Refresh token not found"}
    fake.add_rule(credential="*", path="/v1/oauth/token", status=400, body=refused)

    outcome = await forward(fake)

    # Nobody can serve now, until someone logs in again: a 503 that says so, not a 502.
    assert (outcome.response, outcome.status) == (None, 503)
    assert outcome.message.startswith("No usable account (max: needs re-auth: ")
    assert "Refresh token not found" in outcome.message
    ((name, step),) = outcomes(outcome)
    assert name == "max" and step.startswith(traced)
    # After a 401 it had reached the upstream on "max"; expired, it never left.
    assert (outcome.account == account, outcome.attempted) == (sent, sent)


async def test_a_500_on_the_only_account_is_relayed_and_keeps_its_streak(
    fake: FakeUpstream,
) -> None:
    account = await make(make_account, name="only", api_key=KEY_A, failure_streak=1)
    fake.add_rule(credential=KEY_A, status=500)

    outcome = await forward(fake)

    assert outcome.response.status == 500
    assert len(fake.log()) == 3
    saved = await stored(account)
    assert (saved.failure_streak, saved.cooldown_until) == (1, None)


async def test_an_upstream_redirect_is_relayed_not_followed(fake: FakeUpstream) -> None:
    await make(make_account, name="only", api_key=KEY_A)
    elsewhere = {"location": f"{fake.url}/v1/models"}
    fake.add_rule(credential=KEY_A, status=307, headers=elsewhere, body={}, path="/v1/messages")

    outcome = await forward(fake)

    assert (outcome.response.status, outcome.response.headers["location"]) == (
        307,
        elsewhere["location"],
    )
    assert len(fake.log()) == 1


async def test_a_failing_token_endpoint_is_asked_once_per_request_not_once_per_account(
    fake: FakeUpstream,
) -> None:
    # The endpoint is every OAuth account's: hung, it held one request 15 s per account.
    expired = timezone.now() - timedelta(minutes=1)
    for priority, name in enumerate(("max-1", "max-2", "max-3")):
        await make(make_oauth_account, name=name, priority=priority, expires_at=expired)
    await make(make_account, name="key", api_key=KEY_A, priority=9)
    fake.add_rule(credential="*", path="/v1/oauth/token", status=500)

    outcome = await forward(fake)

    assert outcome.response.status == 200 and outcome.account.name == "key"
    assert [entry["path"] for entry in fake.log()] == ["/v1/oauth/token", "/v1/messages"]
    steps = outcomes(outcome)
    assert steps[0][0] == "max-1" and steps[0][1].startswith("no usable token: ")
    assert steps[1:3] == [(name, attempts._ENDPOINT_FAILED) for name in ("max-2", "max-3")]


async def test_a_refusal_of_one_token_does_not_keep_the_next_account_from_its_refresh(
    fake: FakeUpstream,
) -> None:
    # A 4xx is about the token sent: the next account's refresh may well work.
    expired = timezone.now() - timedelta(minutes=1)
    for priority, name in enumerate(("max-1", "max-2")):
        await make(make_oauth_account, name=name, priority=priority, expires_at=expired)
    refused = {"error": "invalid_request", "error_description": "refresh token malformed"}
    fake.add_rule(credential="*", path="/v1/oauth/token", status=400, body=refused, times=1)

    outcome = await forward(fake)

    assert outcome.response.status == 200 and outcome.account.name == "max-2"
    paths = [entry["path"] for entry in fake.log()]
    assert paths == ["/v1/oauth/token", "/v1/oauth/token", "/v1/messages"]


async def test_a_529_with_a_full_window_is_relayed_and_benches_nobody(fake: FakeUpstream) -> None:
    # Read as a limit, it benched every account and walked the whole pool (12 calls).
    await a_then_b()
    full = {
        "anthropic-ratelimit-unified-status": "allowed_warning",
        "anthropic-ratelimit-unified-5h-utilization": "1.0",
        "anthropic-ratelimit-unified-5h-reset": str(int(timezone.now().timestamp()) + 900),
    }
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    fake.add_rule(credential="*", status=529, headers=full, body=overloaded)

    outcome = await forward(fake)

    assert outcome.response.status == 529
    assert [header(entry, "x-api-key") for entry in fake.log()] == [KEY_A] * 3
    for name in ("a", "b"):
        state = await Account.objects.aget(name=name)
        assert state.rate_limited_until is None


async def test_one_account_holds_the_session_after_requests_that_overlapped(
    fake: FakeUpstream,
) -> None:
    # Both planned while nobody held the session. The first is served by "a", which
    # takes it; the second meets "a" rate-limited and is served by "b". "b" took the
    # session but "a" kept it too, and once its limit ended traffic went back to it.
    a = await a_then_b()
    fake.add_rule(credential=KEY_A, model="opus", scenario="rate_limited", reset_in=600)
    late = [(b"content-type", b"application/json"), (b"x-fake-delay-ms", b"300")]
    opus = BODY.replace(b"claude-sonnet-4-6", b"claude-opus-4-1")
    calls = [
        failover.Call("POST", f"{fake.url}/v1/messages", late[:1], BODY),
        failover.Call("POST", f"{fake.url}/v1/messages", late, opus),
    ]

    first, second = await asyncio.gather(*(failover.forward(c, strip=frozenset()) for c in calls))
    for outcome in (first, second):
        outcome.response.release()

    assert (first.account.name, second.account.name) == ("a", "b")
    assert not (await stored(a)).holds_session
    holders = [x.name async for x in Account.objects.filter(holds_session=True)]
    assert holders == ["b"]
