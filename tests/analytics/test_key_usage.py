"""Usage per client key in /api/stats, /api/analytics and /api/requests, hand-computed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from access import credentials
from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> dict:
    """alice: 2 requests (one failed), 150 tokens, $0.30; bob: 1, 40 tokens, $0.10;
    one request without a key: 10 tokens, no cost. All within the last hour."""
    pool = make_account(name="pool", five_hour_utilization=0.5,
                        five_hour_reset=timezone.now() + timedelta(hours=2))  # fmt: skip
    alice, _ = credentials.create_client_key(name="alice")
    bob, _ = credentials.create_client_key(name="bob")
    now = timezone.now()
    make_request(account=pool, client_key=alice, model="m1", input_tokens=60, output_tokens=40,
                 cost_usd=Decimal("0.2"), timestamp=now - timedelta(minutes=30))  # fmt: skip
    make_request(account=pool, client_key=alice, model="m1", input_tokens=30, output_tokens=20,
                 cost_usd=Decimal("0.1"), success=False, error_message="boom",
                 timestamp=now - timedelta(minutes=10))  # fmt: skip
    make_request(account=pool, client_key=bob, model="m2", input_tokens=30, output_tokens=10,
                 cost_usd=Decimal("0.1"), timestamp=now - timedelta(minutes=5))  # fmt: skip
    make_request(model="m2", input_tokens=10, timestamp=now - timedelta(minutes=1))
    return {"alice": alice, "bob": bob, "last_alice": now - timedelta(minutes=10)}


def test_stats_break_down_per_key_with_the_pools_share(api_client: Client, history: dict) -> None:
    body = api_client.get("/api/stats").json()
    alice, bob, no_key = body["clientKeys"]
    # Shares of the 5-hour window: each key's part of the cost ($0.40 in all) times 50%.
    assert alice == {
        "clientKey": "alice",
        "keyId": history["alice"].pk,
        "requests": 2,
        "successRate": 50.0,
        "tokens": 150,
        "costUsd": 0.3,
        "unpricedRequests": 0,
        "lastUsed": history["last_alice"].isoformat(),
        "poolShare5h": 37.5,
    }
    assert (bob["requests"], bob["tokens"], bob["costUsd"], bob["poolShare5h"]) == (
        1,
        40,
        0.1,
        12.5,
    )
    assert (no_key["clientKey"], no_key["keyId"], no_key["tokens"], no_key["poolShare5h"]) == (
        "no_key", None, 10, 0.0,
    )  # fmt: skip


def test_stats_filtered_to_one_key_count_only_its_requests(
    api_client: Client, history: dict
) -> None:
    body = api_client.get("/api/stats", {"clientKey": "alice"}).json()
    assert (body["totalRequests"], body["totalTokens"], body["totalCostUsd"]) == (2, 150, 0.3)
    assert (body["successRate"], body["activeAccounts"]) == (50, 1)
    assert body["recentErrors"] == ["boom"]
    assert [k["clientKey"] for k in body["clientKeys"]] == ["alice"]
    both = api_client.get("/api/stats", {"clientKey": "bob,no_key"}).json()
    assert (both["totalRequests"], both["totalTokens"]) == (2, 50)


def test_analytics_filters_and_breaks_down_by_key(api_client: Client, history: dict) -> None:
    body = api_client.get("/api/analytics", {"range": "1h", "clientKey": "bob"}).json()
    assert (body["totals"]["requests"], body["totals"]["totalTokens"]) == (1, 40)
    assert [(k["clientKey"], k["requests"], k["costUsd"]) for k in body["keyUsage"]] == [
        ("bob", 1, 0.1)
    ]
    everyone = api_client.get("/api/analytics", {"range": "1h"}).json()
    assert [(k["clientKey"], k["requests"], k["tokens"]) for k in everyone["keyUsage"]] == [
        ("alice", 2, 150), ("bob", 1, 40), ("no_key", 1, 10),
    ]  # fmt: skip


def test_requests_list_filters_by_key(api_client: Client, history: dict) -> None:
    items = api_client.get("/api/requests", {"clientKey": "alice"}).json()
    assert [(i["clientKey"], i["model"]) for i in items] == [("alice", "m1"), ("alice", "m1")]
    keyless = api_client.get("/api/requests", {"clientKey": "no_key"}).json()
    assert [i["clientKey"] for i in keyless] == [None]
    assert api_client.get("/api/requests", {"clientKey": "nobody"}).json() == []


def test_a_key_filter_with_control_characters_is_a_400(api_client: Client) -> None:
    response = api_client.get("/api/stats", {"clientKey": "a\x01b"})
    assert response.status_code == 400 and "error" in response.json()
