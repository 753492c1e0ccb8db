"""Routing that reads Anthropic's limits as they work, end to end through a real daphne.

No self-made outages (an overload every account shares benches nobody), per-model weekly
caps bench one model family, a request-scoped 429 benches nobody, and the session stays
where a failover put it.
"""

import time

import httpx
import pytest

from accounts.models import Account
from analytics.models import Request
from tests.conftest import FakeUpstream, ProxyServer, header, wait_for
from tests.factories import make_account
from tests.proxy.test_proxy_e2e import KEY_A, KEY_B, MESSAGE, two_accounts

pytestmark = pytest.mark.django_db(transaction=True)

OPUS = {**MESSAGE, "model": "claude-opus-4-1-20250805"}


def post(proxy: ProxyServer, body: dict = MESSAGE) -> httpx.Response:
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers={"x-api-key": "c"}, timeout=10)


def served_by(response: httpx.Response) -> str:
    return response.headers.get("x-ccflare-account", "")


def credentials(fake_upstream: FakeUpstream) -> list[str]:
    return [header(entry, "x-api-key") for entry in fake_upstream.log()]


def last_trace(count: int) -> list[str]:
    """The routing trace of the latest request, once `count` requests are recorded."""
    wait_for(lambda: Request.objects.count() >= count)
    row = Request.objects.order_by("-timestamp").first()
    assert row is not None
    return [step["outcome"] for step in row.routing_trace]


def limit_headers(claim: str, reset_in: int = 3600) -> dict[str, str]:
    reset = str(int(time.time()) + reset_in)
    return {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": reset,
        "anthropic-ratelimit-unified-representative-claim": claim,
    }


def cap_alpha_opus(proxy: ProxyServer, fake_upstream: FakeUpstream, *, claim: str) -> None:
    """alpha holds the session, and answers opus calls with a 429 under this claim."""
    two_accounts()
    assert served_by(post(proxy)) == "alpha"
    fake_upstream.add_rule(credential=KEY_A, model="opus", status=429, headers=limit_headers(claim))


# 529: first try + RETRY_ATTEMPTS=2 on the session's account, nobody else asked.
# 500: the same, then one try on another account to learn whether the error is alpha's own.
@pytest.mark.parametrize(
    ("status", "calls"), [(529, [KEY_A] * 3), (500, [KEY_A, KEY_A, KEY_A, KEY_B])]
)
def test_an_error_every_account_shares_is_relayed_and_benches_nobody(
    proxy: ProxyServer, fake_upstream: FakeUpstream, status: int, calls: list[str]
) -> None:
    two_accounts()
    assert served_by(post(proxy)) == "alpha"  # alpha holds the session
    fake_upstream.reset()
    fake_upstream.add_rule(credential="*", status=status, times=len(calls))

    response = post(proxy)

    # The upstream's own answer (SDKs retry it), after these calls; one assert for both,
    # so that a failure shows which calls the fake upstream saw.
    assert (response.status_code, credentials(fake_upstream)) == (status, calls)
    assert "nobody benched" in last_trace(2)[-1]
    follow_up = post(proxy)
    assert (follow_up.status_code, served_by(follow_up)) == (200, "alpha")
    states = Account.objects.values_list("cooldown_until", "rate_limited_until")
    assert list(states) == [(None, None), (None, None)]


def test_an_overload_relayed_after_the_retries_records_the_model_and_stream_asked_for(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # The 529's JSON error names no model and is no event stream: the row had model=null
    # and is_stream=false for a streaming request.
    alpha, _ = two_accounts()
    fake_upstream.add_rule(credential="*", status=529)

    response = post(proxy, {**MESSAGE, "stream": True})

    assert response.status_code == 529
    wait_for(lambda: Request.objects.count() == 1)
    row = Request.objects.get()
    assert (row.status_code, row.terminal_state, row.account_id) == (529, "complete", alpha.pk)
    assert (row.model, row.is_stream) == (MESSAGE["model"], True)


def test_an_opus_weekly_limit_moves_only_opus_calls(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    cap_alpha_opus(proxy, fake_upstream, claim="seven_day_opus")

    opus = post(proxy, OPUS)
    sonnet = post(proxy)
    opus_again = post(proxy, OPUS)

    assert [served_by(r) for r in (opus, sonnet, opus_again)] == ["beta", "alpha", "beta"]
    assert last_trace(4)[0].startswith("opus limit (seven_day_opus) until ")  # skipped, said why
    alpha = wait_for(lambda: Account.objects.get(name="alpha").model_limits)
    assert set(alpha) == {"opus"}
    assert Account.objects.get(name="alpha").rate_limited_until is None
    assert Account.objects.get(name="alpha").holds_session


def test_a_weekly_model_cap_every_account_hits_at_once_is_a_429_from_the_first_request(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # Before, the request that found the caps got a 502 (no retry-after), and only the
    # next one the 429: the model family was read only when a cap was already known.
    two_accounts()
    fake_upstream.add_rule(
        credential="*", model="opus", status=429, headers=limit_headers("seven_day_opus")
    )

    first = post(proxy, OPUS)

    assert first.status_code == 429
    assert first.json()["error"]["type"] == "rate_limit_error"
    # It names the family: "rate-limited" alone read as if no model could be served.
    assert "reached their opus limit (other models are served)" in first.json()["error"]["message"]
    assert 3500 <= int(first.headers["retry-after"]) <= 3600
    assert post(proxy).status_code == 200  # sonnet still served


def test_after_a_failover_the_session_stays_on_the_new_account(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    two_accounts()
    assert served_by(post(proxy)) == "alpha"
    fake_upstream.add_rule(
        credential=KEY_A, status=429, headers=limit_headers("five_hour", 600), times=1
    )

    moved = post(proxy)
    assert served_by(moved) == "beta"
    assert "takes over the session from alpha" in last_trace(2)[-2]
    # alpha recovers (its limit is lifted, as when the reset passes).
    wait_for(lambda: Account.objects.filter(name="alpha", rate_limited_until__isnull=False))
    Account.objects.filter(name="alpha").update(rate_limited_until=None)

    after = [served_by(post(proxy)) for _ in range(3)]

    assert after == ["beta", "beta", "beta"]
    beta = wait_for(lambda: Account.objects.filter(name="beta", holds_session=True).first())
    assert beta is not None


def test_a_429_without_limit_headers_fails_over_and_benches_nobody(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    two_accounts()
    assert served_by(post(proxy)) == "alpha"
    fake_upstream.add_rule(credential=KEY_A, scenario="bare_429", times=1)

    response = post(proxy)
    trace = last_trace(2)
    follow_up = post(proxy)

    assert (response.status_code, served_by(response)) == (200, "beta")
    assert "429 without rate-limit headers: about this request, not benched" in trace[0]
    assert served_by(follow_up) == "alpha"  # alpha kept its session and is not benched
    assert Account.objects.get(name="alpha").rate_limited_until is None


def test_health_is_503_when_no_account_can_serve_and_200_after_a_resume(
    proxy: ProxyServer,
) -> None:
    two_accounts()
    Account.objects.update(paused=True)

    down = httpx.get(f"{proxy.url}/health")
    Account.objects.filter(name="beta").update(paused=False)
    up = httpx.get(f"{proxy.url}/health")

    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert "alpha paused" in down.json()["reason"]
    assert (up.status_code, up.json()["usableAccounts"]) == (200, 1)


def test_health_is_200_with_no_accounts(proxy: ProxyServer) -> None:
    response = httpx.get(f"{proxy.url}/health")
    assert (response.status_code, response.json()["accounts"]) == (200, 0)


def test_each_request_gets_one_info_line_with_account_model_tokens_and_cost(
    proxy: ProxyServer, prices: None
) -> None:
    make_account(name="logged-once", api_key=KEY_A)  # a name no other test's line carries
    assert post(proxy).status_code == 200

    line = wait_for(
        lambda: next(
            (
                text
                for text in proxy.server_log().splitlines()
                if "request POST /v1/messages account=logged-once" in text
            ),
            None,
        )
    )

    assert line is not None
    assert "model=claude-sonnet" in line
    assert "status=200" in line
    assert "cost=$" in line


def test_a_weekly_cap_under_a_family_name_no_model_has_benches_the_family_refused(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # Kept under "mythos", a name no model is known by, the cap held nothing: every opus
    # call went to alpha first and was refused again, for as long as the cap lasted.
    cap_alpha_opus(proxy, fake_upstream, claim="seven_day_mythos")

    assert served_by(post(proxy, OPUS)) == "beta"
    fake_upstream.reset()
    assert served_by(post(proxy, OPUS)) == "beta"
    assert credentials(fake_upstream) == [KEY_B]  # alpha not asked again
    assert served_by(post(proxy)) == "alpha"  # sonnet stays
    limits = wait_for(lambda: Account.objects.get(name="alpha").model_limits)
    assert list(limits) == ["opus"]
    assert limits["opus"]["claim"] == "seven_day_mythos"
