"""/api/stats and /api/analytics share one computation (analytics.reporting.aggregates).

On the same rows (the whole history lies inside the report's 30-day window) the two
endpoints must give the same figures, each rounded as its JSON shape promises.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 10, 12, 30, tzinfo=UTC)


@pytest.fixture
def seeded() -> None:
    """Three accounts' worth of requests (and one without an account) over the last week.

    Chosen so rounding shows: 4 of 6 succeed (66.7 %), the response times average
    383.4 ms (one request has none), two requests have no output speed, one no
    model, and the costs have many decimals.
    """
    alpha, beta = make_account(name="alpha"), make_account(name="beta")
    days = lambda n: NOW - timedelta(days=n, minutes=7)  # noqa: E731
    make_request(
        timestamp=days(0), account=alpha, model="claude-sonnet-4-6", response_time_ms=100,
        output_tokens_per_second=41.5, input_tokens=120, cache_read_input_tokens=900,
        output_tokens=33, cost_usd=Decimal("0.0123456"),
    )  # fmt: skip
    make_request(
        timestamp=days(1), account=alpha, model="claude-opus-4-1", response_time_ms=250,
        success=False, status_code=500, input_tokens=7,
    )  # fmt: skip
    make_request(
        timestamp=days(2), account=beta, model="claude-sonnet-4-6", response_time_ms=980,
        output_tokens_per_second=12.25, input_tokens=40, cache_creation_input_tokens=2000,
        output_tokens=501, cost_usd=Decimal("0.3333333"),
    )  # fmt: skip
    make_request(
        timestamp=days(3), account=beta, model="claude-haiku-4-5", response_time_ms=None,
        success=False, status_code=529,
    )  # fmt: skip
    make_request(
        timestamp=days(5), account=None, model="claude-sonnet-4-6", response_time_ms=370,
        output_tokens_per_second=88.8, input_tokens=5, output_tokens=9,
        cost_usd=Decimal("0.0000417"),
    )  # fmt: skip
    make_request(
        timestamp=days(6), account=alpha, model=None, response_time_ms=217,
        output_tokens_per_second=3.0, input_tokens=1, output_tokens=1,
    )  # fmt: skip


def get(client: Client, path: str) -> dict:
    with time_machine.travel(NOW, tick=False):
        response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def test_stats_and_analytics_agree_on_the_same_rows(api_client: Client, seeded: None) -> None:
    stats = get(api_client, "/api/stats")
    totals = get(api_client, "/api/analytics?range=30d")["totals"]

    assert (
        stats["totalRequests"],
        stats["successRate"],
        stats["totalTokens"],
        stats["totalCostUsd"],
        stats["avgResponseTime"],
        stats["avgTokensPerSecond"],
    ) == (
        totals["requests"],
        round(totals["successRate"]),
        totals["totalTokens"],
        totals["totalCostUsd"],
        round(totals["avgResponseTime"]),
        totals["avgTokensPerSecond"],
    )
    assert (stats["totalRequests"], stats["successRate"], stats["avgResponseTime"]) == (6, 67, 383)
    assert stats["totalTokens"] == 120 + 900 + 33 + 7 + 40 + 2000 + 501 + 5 + 9 + 1 + 1
    assert stats["totalCostUsd"] == pytest.approx(0.0123456 + 0.3333333 + 0.0000417)


def test_stats_and_analytics_agree_per_model_and_per_account(
    api_client: Client, seeded: None
) -> None:
    stats = get(api_client, "/api/stats")
    report = get(api_client, "/api/analytics?range=30d")

    assert [(m["model"], m["count"]) for m in stats["topModels"]] == [
        (m["model"], m["count"]) for m in report["modelDistribution"]
    ]
    assert [(a["name"], a["requestCount"], a["successRate"]) for a in stats["accounts"]] == [
        (a["name"], a["requests"], round(a["successRate"])) for a in report["accountPerformance"]
    ]
    assert [a["name"] for a in stats["accounts"]] == ["alpha", "beta", "no_account"]
