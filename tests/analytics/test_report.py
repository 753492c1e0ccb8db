"""GET /api/analytics on a known data set, every figure computed by hand (docs/api.md)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 10, 12, 30, tzinfo=UTC)
SONNET, OPUS = "claude-sonnet-4-6", "claude-opus-4-1"


def ms(hour: int, minute: int) -> int:
    return int(datetime(2026, 1, 10, hour, minute, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def dataset() -> None:
    """Four requests in the last hour, one two days ago.

    | at    | account | model  | ok | ms   | tps | in  | cache r/w | out | cost  |
    | 12:20 | alpha   | sonnet | y  | 100  | 50  | 100 | 300/100   | 50  | 0.01  |
    | 12:22 | alpha   | sonnet | y  | 200  | 30  | 100 | 0/0       | 100 | 0.02  |
    | 11:40 | beta    | opus   | n  | 400  | -   | 10  | 0/0       | 0   | -     |
    | 11:45 | (none)  | sonnet | y  | 300  | 10  | 40  | 0/0       | 20  | 0.005 |
    | -2d   | alpha   | sonnet | y  | 1000 | -   | 0   | 0/0       | 0   | -     |
    """
    alpha, beta = make_account(name="alpha"), make_account(name="beta")
    at = lambda h, m: datetime(2026, 1, 10, h, m, tzinfo=UTC)  # noqa: E731
    make_request(
        timestamp=at(12, 20), account=alpha, model=SONNET, response_time_ms=100,
        output_tokens_per_second=50, input_tokens=100, cache_read_input_tokens=300,
        cache_creation_input_tokens=100, output_tokens=50, cost_usd=Decimal("0.01"),
    )  # fmt: skip
    make_request(
        timestamp=at(12, 22), account=alpha, model=SONNET, response_time_ms=200,
        output_tokens_per_second=30, input_tokens=100, output_tokens=100,
        cost_usd=Decimal("0.02"),
    )  # fmt: skip
    make_request(
        timestamp=at(11, 40), account=beta, model=OPUS, response_time_ms=400, success=False,
        status_code=500, input_tokens=10,
    )  # fmt: skip
    make_request(
        timestamp=at(11, 45), account=None, model=SONNET, response_time_ms=300,
        output_tokens_per_second=10, input_tokens=40, output_tokens=20,
        cost_usd=Decimal("0.005"),
    )  # fmt: skip
    make_request(timestamp=NOW - timedelta(days=2), account=alpha, model=SONNET,
                 response_time_ms=1000)  # fmt: skip


def get(client: Client, query: str = "") -> dict:
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/api/analytics{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_totals_and_breakdowns_for_the_last_24_hours(api_client: Client, dataset: None) -> None:
    body = get(api_client)

    assert body["meta"] == {"range": "24h", "bucket": "1h", "cumulative": False}
    assert body["totals"] == {
        "requests": 4,
        "successRate": 75.0,
        "activeAccounts": 3,  # alpha, beta and no_account
        "avgResponseTime": 250.0,
        "totalTokens": 820,  # 550 + 200 + 10 + 60
        "totalCostUsd": pytest.approx(0.035),
        "avgTokensPerSecond": 30.0,
        "unpricedRequests": 0,
    }
    assert body["tokenBreakdown"] == {
        "inputTokens": 250,
        "cacheReadInputTokens": 300,
        "cacheCreationInputTokens": 100,
        "outputTokens": 170,
    }
    assert body["modelDistribution"] == [
        {"model": SONNET, "count": 3},
        {"model": OPUS, "count": 1},
    ]
    assert body["accountPerformance"] == [
        {"name": "alpha", "requests": 2, "successRate": 100.0},
        {"name": "beta", "requests": 1, "successRate": 0.0},
        {"name": "no_account", "requests": 1, "successRate": 100.0},
    ]
    assert body["costByModel"] == [
        {"model": SONNET, "costUsd": pytest.approx(0.035), "requests": 3, "totalTokens": 810}
    ]


def test_model_performance_with_nearest_rank_p95(api_client: Client, dataset: None) -> None:
    sonnet, opus = get(api_client)["modelPerformance"]

    assert sonnet == {
        "model": SONNET,
        "avgResponseTime": 200.0,
        "p95ResponseTime": 300,  # ceil(0.95 * 3) = 3rd of 100, 200, 300
        "errorRate": 0,
        "avgTokensPerSecond": 30.0,
        "minTokensPerSecond": 10.0,
        "maxTokensPerSecond": 50.0,
    }
    assert opus == {
        "model": OPUS,
        "avgResponseTime": 400.0,
        "p95ResponseTime": 400,
        "errorRate": 100.0,
        "avgTokensPerSecond": None,
        "minTokensPerSecond": None,
        "maxTokensPerSecond": None,
    }


def test_p95_is_the_value_at_rank_ceil_095_n(api_client: Client) -> None:
    for value in range(1, 21):  # 20 rows: rank ceil(19.0) = 19
        make_request(timestamp=NOW - timedelta(minutes=5), model=SONNET, response_time_ms=value)
    (item,) = get(api_client)["modelPerformance"]
    assert item["p95ResponseTime"] == 19
    assert item["avgResponseTime"] == 10.5


def test_requests_of_a_model_with_no_price_are_counted_apart_from_the_cost(
    api_client: Client,
) -> None:
    # They counted as $0 and nothing said so (PRICES.md: never silently $0).
    at = NOW - timedelta(minutes=5)
    make_request(timestamp=at, model=SONNET, input_tokens=10, cost_usd=Decimal("0.25"))
    make_request(timestamp=at, model="claude-new-1", input_tokens=10, unpriced=True)

    totals = get(api_client)["totals"]

    assert (totals["totalCostUsd"], totals["unpricedRequests"]) == (0.25, 1)


def test_hourly_series_with_rates(api_client: Client, dataset: None) -> None:
    body = get(api_client)
    assert body["timeSeries"] == [
        {
            "ts": ms(11, 0),
            "requests": 2,
            "tokens": 70,
            "costUsd": pytest.approx(0.005),
            "successRate": 50.0,
            "errorRate": 50.0,
            "cacheHitRate": 0,
            "avgResponseTime": 350.0,
            "avgTokensPerSecond": 10.0,
        },
        {
            "ts": ms(12, 0),
            "requests": 2,
            "tokens": 750,
            "costUsd": pytest.approx(0.03),
            "successRate": 100.0,
            "errorRate": 0.0,
            "cacheHitRate": 50.0,  # 300 / (100 + 300 + 100 + 100)
            "avgResponseTime": 150.0,
            "avgTokensPerSecond": 40.0,
        },
    ]


def test_cumulative_mode_keeps_running_totals(api_client: Client, dataset: None) -> None:
    series = get(api_client, "?mode=cumulative")["timeSeries"]
    assert [(p["requests"], p["tokens"]) for p in series] == [(2, 70), (4, 820)]
    assert series[1]["costUsd"] == pytest.approx(0.035)
    assert series[1]["successRate"] == 100.0  # rates stay per bucket


def test_model_breakdown_groups_by_bucket_and_model(api_client: Client, dataset: None) -> None:
    series = get(api_client, "?modelBreakdown=true&mode=cumulative")["timeSeries"]
    assert [(p["ts"], p["model"], p["requests"]) for p in series] == [
        (ms(11, 0), OPUS, 1),
        (ms(11, 0), SONNET, 1),
        (ms(12, 0), SONNET, 3),  # running total per model: 1 + 2
    ]


def test_five_minute_buckets_for_six_hours(api_client: Client, dataset: None) -> None:
    body = get(api_client, "?range=6h")
    assert body["meta"]["bucket"] == "5m"
    assert [(p["ts"], p["requests"]) for p in body["timeSeries"]] == [
        (ms(11, 40), 1),
        (ms(11, 45), 1),
        (ms(12, 20), 2),  # 12:20 and 12:22 share a bucket
    ]


def test_minute_buckets_and_daily_buckets(api_client: Client, dataset: None) -> None:
    assert [p["ts"] for p in get(api_client, "?range=1h")["timeSeries"]] == [
        ms(11, 40),
        ms(11, 45),
        ms(12, 20),
        ms(12, 22),
    ]
    daily = get(api_client, "?range=30d")
    assert daily["meta"]["bucket"] == "1d"
    assert [(p["ts"], p["requests"]) for p in daily["timeSeries"]] == [
        (ms(0, 0) - 2 * 86_400_000, 1),
        (ms(0, 0), 4),
    ]


@pytest.mark.parametrize(
    ("query", "requests"),
    [
        ("?range=7d", 5),
        ("?accounts=alpha", 2),
        ("?accounts=alpha,no_account", 3),
        ("?accounts=no_account", 1),
        ("?accounts=nobody", 0),
        (f"?models={OPUS}", 1),
        (f"?models={OPUS},{SONNET}&status=success", 3),
        ("?status=error", 1),
        ("?status=success&accounts=beta", 0),
    ],
)
def test_filters_apply_to_every_query(
    api_client: Client, dataset: None, query: str, requests: int
) -> None:
    body = get(api_client, query)
    assert body["totals"]["requests"] == requests
    assert sum(p["requests"] for p in body["timeSeries"]) == requests
    assert sum(m["count"] for m in body["modelDistribution"]) == requests


@pytest.mark.parametrize(
    "query",
    [
        "?range=2h",
        "?status=ok",
        "?mode=sum",
        "?modelBreakdown=maybe",
        "?range=",
    ],
)
def test_bad_parameters_are_400_with_details(api_client: Client, query: str) -> None:
    response = api_client.get(f"/api/analytics{query}")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}


def test_the_report_reads_rows_in_sql_alone_and_per_model_once(
    api_client: Client, dataset: None
) -> None:
    """Django's truncation on SQLite is a Python function called per row, which made the
    hourly series half of the report's time with many requests; the totals and the three
    per-model tables are read from one pass grouped by model."""
    with CaptureQueriesContext(connection) as queries:
        get(api_client, "?range=7d")
    sql = [query["sql"] for query in queries.captured_queries]
    assert not [s for s in sql if "django_datetime_trunc" in s]
    per_model = '"analytics_request"."model" AS "group", COUNT('  # aggregates.grouped
    assert sum(per_model in s and "GROUP BY" in s for s in sql) == 1
