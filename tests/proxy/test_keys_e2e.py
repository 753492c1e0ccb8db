"""Client keys' budgets and model rules against a real daphne and the fake upstream."""

import json
import time

import httpx
import pytest
from django.core.management import call_command

from access import credentials, keyrules
from access.models import ClientKey
from analytics.models import Request
from tests.analytics.test_metrics import sample
from tests.conftest import FakeUpstream, ProxyServer, wait_for
from tests.factories import make_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

KEY = "sk-ant-api03-keys-account-key-0001"


def post(proxy: ProxyServer, secret: str, model: str = "claude-sonnet-4-6") -> httpx.Response:
    body = {"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": secret, "anthropic-version": "2023-06-01"}
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=10)


def scrape(proxy: ProxyServer, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{proxy.url}/metrics", headers=headers, timeout=10).text


def key(name: str) -> tuple[ClientKey, str]:
    return credentials.create_client_key(name=name)


def recorded(count: int) -> list[Request]:
    rows = wait_for(lambda: Request.objects.count() >= count and list(Request.objects.all()))
    assert len(rows) == count
    return rows


def test_fourth_request_over_a_budget_of_three_per_hour_is_a_429_and_recorded(
    proxy: ProxyServer,
) -> None:
    make_account(name="pool", api_key=KEY)
    alice, alice_secret = key("alice")
    bob, bob_secret = key("bob")
    keyrules.set_budget(key=alice, metric="requests", window="1h", limit=3)

    first = [post(proxy, alice_secret).status_code for _ in range(3)]
    refused = post(proxy, alice_secret)
    other = post(proxy, bob_secret)

    assert first == [200, 200, 200]
    assert refused.status_code == 429
    error = refused.json()
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
    assert (
        "Client key 'alice' is over its budget of 3 requests per hour" in error["error"]["message"]
    )
    assert 3500 <= int(refused.headers["retry-after"]) <= 3600
    assert "x-ccflare-account" not in refused.headers  # no account was involved
    assert other.status_code == 200
    rows = recorded(5)
    by_key = sorted((r.client_key_id, r.status_code, r.terminal_state) for r in rows)
    assert by_key == sorted(
        [(alice.pk, 200, "complete")] * 3 + [(alice.pk, 429, "rejected"), (bob.pk, 200, "complete")]
    )


def test_a_budget_counts_requests_let_through_by_another_server_on_the_same_database(
    proxy: ProxyServer, twin_proxy_server: ProxyServer
) -> None:
    make_account(name="pool", api_key=KEY)
    alice, secret = key("alice")
    keyrules.set_budget(key=alice, metric="requests", window="1h", limit=3)

    assert [post(proxy, secret).status_code for _ in range(2)] == [200, 200]
    assert post(twin_proxy_server, secret).status_code == 200
    recorded(3)  # the twin re-reads the recorded rows (ACCOUNT_CACHE_SECONDS=0 here)

    assert post(proxy, secret).status_code == 429
    assert post(twin_proxy_server, secret).status_code == 429


def test_a_token_budget_trips_once_the_recorded_tokens_reach_it(proxy: ProxyServer) -> None:
    make_account(name="pool", api_key=KEY)
    alice, secret = key("alice")
    assert post(proxy, secret).status_code == 200
    (row,) = recorded(1)
    keyrules.set_budget(key=alice, metric="tokens", window="1d", limit=row.total_tokens * 2)

    assert post(proxy, secret).status_code == 200
    recorded(2)
    refused = post(proxy, secret)

    assert refused.status_code == 429
    message = refused.json()["error"]["message"]
    assert f"{row.total_tokens * 2} tokens per day" in message
    assert f"used {row.total_tokens * 2}" in message


def test_a_share_of_the_pool_trips_when_the_key_uses_more_of_the_window(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    """60% of the 5-hour window used; alice may use 50% of it. Hand-computed: her part of
    the window's cost (equal requests) times 60%: 1/2 → 30%, 2/3 → 40%, 3/4 → 45%,
    4/5 → 48%, 5/6 → 50% (refused)."""
    make_account(name="pool", api_key=KEY)
    reset = int(time.time()) + 1800
    fake_upstream.add_rule(
        credential="*",
        status=200,
        headers={
            "anthropic-ratelimit-unified-5h-utilization": "0.6",
            "anthropic-ratelimit-unified-5h-reset": str(reset),
        },
    )
    alice, alice_secret = key("alice")
    _, bob_secret = key("bob")
    keyrules.set_budget(key=alice, metric="pool_share", window="5h", limit=50)

    assert post(proxy, bob_secret).status_code == 200
    for sent in range(1, 6):
        assert post(proxy, alice_secret).status_code == 200, f"request {sent} refused"
        recorded(sent + 1)
    asked_at = time.time()
    refused = post(proxy, alice_secret)

    assert refused.status_code == 429
    message = refused.json()["error"]["message"]
    assert "50% of the pool's 5-hour window (used 50.0%)" in message
    # Rounded up from the server's own clock, read between these two moments: the upper
    # bound taken after the answer failed when the answer came in the next second.
    assert reset - time.time() - 5 <= int(refused.headers["retry-after"]) <= reset - asked_at + 1
    assert post(proxy, bob_secret).status_code == 200  # bob has no budget


def test_model_rules_refuse_a_family_with_a_403_and_let_the_rest_through(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="pool", api_key=KEY)
    ci, ci_secret = key("ci")
    keyrules.set_model_rules(key=ci, allowed=[], denied=["opus"])
    bot, bot_secret = key("bot")
    keyrules.set_model_rules(key=bot, allowed=["haiku"], denied=[])

    denied = post(proxy, ci_secret, model="claude-opus-4-1")
    allowed = post(proxy, ci_secret)
    not_listed = post(proxy, bot_secret)
    listed = post(proxy, bot_secret, model="claude-haiku-4-5")

    assert denied.status_code == 403
    why = "Client key 'ci' may not use model claude-opus-4-1: opus models are denied to it"
    assert denied.json()["error"] == {"type": "permission_error", "message": why}
    assert not_listed.status_code == 403
    assert "may only use haiku models" in not_listed.json()["error"]["message"]
    assert (allowed.status_code, listed.status_code) == (200, 200)
    assert len(fake_upstream.log()) == 2  # the refused ones never left the proxy
    rows = recorded(4)
    assert sorted((r.status_code, r.model) for r in rows) == [
        (200, "claude-haiku-4-5"),
        (200, "claude-sonnet-4-6"),
        (403, "claude-opus-4-1"),  # the model asked for, though no answer named it
        (403, "claude-sonnet-4-6"),
    ]


def test_a_rotated_key_keeps_its_budget_rules_and_usage_and_the_old_secret_stops(
    proxy: ProxyServer, capsys: pytest.CaptureFixture
) -> None:
    # Was: replacing a leaked key meant revoke and create, and the new key had no budgets.
    make_account(name="pool", api_key=KEY)
    ci, old_secret = key("ci")
    keyrules.set_budget(key=ci, metric="requests", window="1h", limit=3)
    keyrules.set_model_rules(key=ci, allowed=[], denied=["opus"])
    assert [post(proxy, old_secret).status_code for _ in range(2)] == [200, 200]

    call_command("rotate_client_key", "ci")
    new_secret = capsys.readouterr().out.strip()

    assert post(proxy, old_secret).status_code == 401  # the server re-reads keys at once here
    assert post(proxy, new_secret, model="claude-opus-4-1").status_code == 403
    assert post(proxy, new_secret).status_code == 200  # the budget's third request
    assert post(proxy, new_secret).status_code == 429
    rows = recorded(6)  # the refused old secret's requests name no key
    assert {r.client_key_id for r in rows if r.status_code != 401} == {ci.pk}


@pytest.mark.parametrize(
    "body",
    [
        # The audit's bypass: the upstream's parser reads this as claude-opus-4-1.
        b'{"model": "claude-op\\u0075s-4-1", "max_tokens": 8, "messages": []}',
        # A model key given twice: parsers differ on which one wins.
        b'{"model": "claude-haiku-4-5", "model": "claude-opus-4-1", "max_tokens": 8}',
        # A message batch: each request names its own model.
        json.dumps(
            {
                "requests": [
                    {"custom_id": str(n), "params": {"model": m}}
                    for n, m in enumerate(["claude-haiku-4-5", "claude-opus-4-1"])
                ]
            }  # fmt: skip
        ).encode(),
    ],
    ids=["escaped", "twice", "batch"],
)
def test_model_rules_hold_whatever_the_json_spelling(
    proxy: ProxyServer, fake_upstream: FakeUpstream, body: bytes
) -> None:
    make_account(name="pool", api_key=KEY)
    ci, ci_secret = key("ci")
    keyrules.set_model_rules(key=ci, allowed=[], denied=["opus"])
    path = "/v1/messages/batches" if b"requests" in body else "/v1/messages"

    refused = httpx.post(
        f"{proxy.url}{path}",
        content=body,
        headers={"x-api-key": ci_secret, "content-type": "application/json"},
        timeout=10,
    )

    assert refused.status_code == 403, refused.text
    assert "opus models are denied to it" in refused.json()["error"]["message"]
    assert fake_upstream.log() == []


def test_a_key_with_model_rules_gets_a_400_for_a_body_it_cannot_read(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="pool", api_key=KEY)
    ci, ci_secret = key("ci")
    keyrules.set_model_rules(key=ci, allowed=["haiku"], denied=[])
    nested = b'{"model": "claude-opus-4-1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    refused = httpx.post(
        f"{proxy.url}/v1/messages", content=nested, headers={"x-api-key": ci_secret}, timeout=10
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert fake_upstream.log() == []


def test_a_key_with_model_rules_may_send_requests_without_a_body(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # GET /v1/models names no model; it was a 400 ("could not be read as JSON") for such a
    # key once the rules read bodies with a JSON parser, and a 200 before.
    make_account(name="pool", api_key=KEY)
    ruled, secret = key("ruled")
    keyrules.set_model_rules(key=ruled, allowed=["haiku"], denied=["opus"])

    listed = httpx.get(f"{proxy.url}/v1/models", headers={"x-api-key": secret}, timeout=10)

    assert listed.status_code == 200, listed.text
    assert [entry["path"] for entry in fake_upstream.log()] == ["/v1/models"]


def test_a_refused_streaming_request_is_recorded_as_a_stream(proxy: ProxyServer) -> None:
    make_account(name="pool", api_key=KEY)
    ci, ci_secret = key("ci")
    keyrules.set_model_rules(key=ci, allowed=[], denied=["opus"])
    body = {"model": "claude-opus-4-1", "max_tokens": 8, "messages": [], "stream": True}

    refused = httpx.post(
        f"{proxy.url}/v1/messages", json=body, headers={"x-api-key": ci_secret}, timeout=10
    )

    assert refused.status_code == 403
    (row,) = recorded(1)
    assert (row.terminal_state, row.model, row.is_stream) == ("rejected", "claude-opus-4-1", True)


def test_metrics_count_requests_per_client_key(proxy: ProxyServer, api_token: str) -> None:
    make_account(name="pool", api_key=KEY)
    alice, secret = key("metered-alice")
    keyrules.set_budget(key=alice, metric="requests", window="1h", limit=1)
    assert [post(proxy, secret).status_code for _ in range(2)] == [200, 429]
    labels = {"account": "pool", "model": "claude-sonnet-4-6", "status": "200",
              "terminal_state": "complete", "client_key": "metered-alice"}  # fmt: skip
    refused = {**labels, "account": "none", "status": "429",
               "terminal_state": "rejected"}  # fmt: skip

    def scraped() -> str | None:
        page = scrape(proxy, api_token)
        found = sample(page, "ccflare_requests_total", **refused)
        return page if found and sample(page, "ccflare_requests_total", **labels) else None

    page = wait_for(scraped)
    assert sample(page, "ccflare_requests_total", **labels) == 1
    assert sample(page, "ccflare_requests_total", **refused) == 1
