"""The analytics router through the real URLconf: shapes (docs/api.md), 400s, 404s."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Account
from accounts.pool import pool
from analytics.models import Request, RequestPayload, RuntimeSetting
from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db


def post(client: Client, url: str, body: dict | None = None) -> tuple[int, object]:
    response = client.post(url, json.dumps(body or {}), content_type="application/json")
    return response.status_code, response.json() if response.content else None


@pytest.mark.django_db(transaction=True)  # read by the pool's own thread (its snapshot)
def test_health_is_open_and_reports_why_accounts_are_unusable(client: Client) -> None:
    pool.invalidate()
    make_account(name="ok")
    make_account(name="resting", paused=True)
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["strategy"] == "session"
    assert (body["accounts"], body["usableAccounts"]) == (2, 1)
    assert body["unusableAccounts"] == [{"name": "resting", "reason": "paused"}]


@pytest.mark.django_db(transaction=True)
def test_health_answers_from_the_proxys_snapshot_while_the_database_is_away(
    client: Client, settings: Any
) -> None:
    # After a PostgreSQL restart it answered 500 until the server was restarted, while
    # the proxy went on serving from its snapshot.
    settings.ACCOUNT_CACHE_SECONDS = 0
    pool.invalidate()
    make_account(name="ok")
    assert client.get("/health").json()["accounts"] == 1
    rename = "ALTER TABLE {} RENAME TO {}"
    with connection.cursor() as cursor:
        cursor.execute(rename.format("accounts_account", "accounts_away"))
    try:
        response = client.get("/health")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(rename.format("accounts_away", "accounts_account"))

    assert response.status_code == 200
    assert (response.json()["accounts"], response.json()["usableAccounts"]) == (1, 1)


def test_stats_shape_and_values(api_client: Client) -> None:
    work = make_account(name="work", request_count=2, total_requests=5)
    make_request(account=work, model="m1", response_time_ms=100, input_tokens=10,
                 output_tokens=5, cost_usd=Decimal("0.5"), output_tokens_per_second=20)  # fmt: skip
    make_request(account=work, model="m1", response_time_ms=300, success=False,
                 error_message="boom")  # fmt: skip
    # No price for m2: its cost is not in the total, and the total says so.
    make_request(model="m2", response_time_ms=200, error_message="boom", unpriced=True)
    body = api_client.get("/api/stats").json()
    (no_key,) = body.pop("clientKeys")  # client keys: tests/analytics/test_key_usage.py
    assert (no_key["clientKey"], no_key["requests"], no_key["unpricedRequests"]) == (
        "no_key",
        3,
        1,
    )
    assert body == {
        "totalRequests": 3,
        "successRate": 67,
        "activeAccounts": 1,
        "avgResponseTime": 200,
        "totalTokens": 15,
        "totalCostUsd": 0.5,
        "unpricedRequests": 1,
        "topModels": [
            {"model": "m1", "count": 2, "percentage": 66.67},
            {"model": "m2", "count": 1, "percentage": 33.33},
        ],
        "avgTokensPerSecond": 20.0,
        "accounts": [
            {"name": "work", "requestCount": 2, "successRate": 50, "totalRequests": 5},
            {"name": "no_account", "requestCount": 1, "successRate": 100, "totalRequests": 1},
        ],
        "recentErrors": ["boom"],
    }


def test_stats_reset_deletes_history_and_zeroes_counters(api_client: Client) -> None:
    work = make_account(name="work", request_count=4, session_request_count=2, total_requests=9)
    row = make_request(account=work)
    RequestPayload.objects.create(request=row, data={})
    assert post(api_client, "/api/stats/reset") == (
        200,
        {"success": True, "message": "Statistics reset successfully"},
    )
    work.refresh_from_db()
    assert (work.request_count, work.session_request_count, work.total_requests) == (0, 0, 9)
    assert not Request.objects.exists() and not RequestPayload.objects.exists()


def test_requests_list_uses_names_and_bounds_limit(api_client: Client) -> None:
    work = make_account(name="work")
    now = timezone.now()
    for minutes in range(3):
        make_request(account=work, timestamp=now - timedelta(minutes=minutes), model="m")
    gone = make_request(account_id=Account().pk, timestamp=now - timedelta(hours=1))
    rows = api_client.get("/api/requests?limit=2").json()
    assert len(rows) == 2
    assert rows[0]["accountUsed"] == "work"
    assert {"id", "timestamp", "method", "path", "accountUsed", "statusCode", "success",
            "errorMessage", "responseTimeMs", "failoverAttempts", "model", "promptTokens",
            "completionTokens", "totalTokens", "inputTokens", "cacheReadInputTokens",
            "cacheCreationInputTokens", "outputTokens", "costUsd", "agentUsed",
            "tokensPerSecond"} <= set(rows[0])  # fmt: skip
    assert api_client.get("/api/requests").json()[-1]["accountUsed"] == str(gone.account_id)
    for bad in ("0", "1001", "abc", "1.5"):
        assert api_client.get(f"/api/requests?limit={bad}").status_code == 400


def test_request_detail_list_and_one_request(api_client: Client) -> None:
    work = make_account(name="work")
    trace = [{"account": "work", "id": str(work.pk), "outcome": "served"}]
    row = make_request(account=work, routing_trace=trace)
    data = {
        "request": {"headers": {"x-api-key": "[REDACTED]"}, "body": "e30="},
        "response": {"status": 200, "headers": {}, "body": None},
        "meta": {"accountId": str(work.pk), "timestamp": 1, "success": True, "isStream": False,
                 "retry": 0},
    }  # fmt: skip
    RequestPayload.objects.create(request=row, data=data)
    (item,) = api_client.get("/api/requests/detail?limit=5").json()
    assert item["id"] == str(row.pk)
    assert item["meta"]["accountName"] == "work"
    assert item["request"] == data["request"]
    detail = api_client.get(f"/api/requests/{row.pk}").json()
    assert detail["routingTrace"] == trace
    assert detail["accountUsed"] == "work" and detail["accountId"] == str(work.pk)
    assert detail["payload"]["response"]["status"] == 200
    assert api_client.get("/api/requests/detail?limit=0").status_code == 400


@pytest.mark.parametrize("ref", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_unknown_request_is_404(api_client: Client, ref: str) -> None:
    response = api_client.get(f"/api/requests/{ref}")
    assert response.status_code == 404
    assert response.json() == {"error": f"Request '{ref}' not found"}


def test_config_and_strategy(api_client: Client, settings: object) -> None:
    assert api_client.get("/api/config").json() == {
        "lb_strategy": "session",
        "port": 8080,
        "sessionDurationMs": 18_000_000,
        "default_agent_model": "inherit",
    }
    assert api_client.get("/api/strategies").json() == ["session"]
    assert api_client.get("/api/config/strategy").json() == {"strategy": "session"}
    assert post(api_client, "/api/config/strategy", {"strategy": "session"}) == (
        200,
        {"success": True, "strategy": "session"},
    )
    status, body = post(api_client, "/api/config/strategy", {"strategy": "round-robin"})
    assert (status, body["error"]) == (400, "Strategy must be one of: session")
    assert post(api_client, "/api/config/strategy", {})[0] == 400


def test_retention_is_kept_in_the_database_and_validated(api_client: Client) -> None:
    assert api_client.get("/api/config/retention").json() == {"payloadDays": 7, "requestDays": 365}
    assert not RuntimeSetting.objects.exists()  # defaults are never written back
    assert post(api_client, "/api/config/retention", {"payloadDays": 3}) == (204, None)
    assert api_client.get("/api/config/retention").json() == {"payloadDays": 3, "requestDays": 365}
    assert post(api_client, "/api/config/retention", {}) == (
        400,
        {"error": "No retention fields provided"},
    )
    for body in ({"payloadDays": 0}, {"payloadDays": 366}, {"requestDays": 3651},
                 {"requestDays": "10"}, {"payloadDays": True}):  # fmt: skip
        assert post(api_client, "/api/config/retention", body)[0] == 400


def test_retention_set_in_the_environment_wins(api_client: Client, settings: object) -> None:
    settings.DATA_RETENTION_DAYS = 2
    settings.RUNTIME_SETTINGS_FROM_ENV = frozenset({"DATA_RETENTION_DAYS"})
    RuntimeSetting.objects.create(key="data_retention_days", value=30)
    assert api_client.get("/api/config/retention").json()["payloadDays"] == 2
    status, body = post(api_client, "/api/config/retention", {"payloadDays": 5})
    assert status == 409
    assert body["details"] == {"setInEnvironment": ["DATA_RETENTION_DAYS"]}


def test_cleanup_applies_both_windows(api_client: Client) -> None:
    now = timezone.now()
    RuntimeSetting.objects.create(key="data_retention_days", value=2)
    RuntimeSetting.objects.create(key="request_retention_days", value=10)
    fresh = make_request(timestamp=now - timedelta(days=1))
    stale_payload = make_request(timestamp=now - timedelta(days=5))
    ancient = make_request(timestamp=now - timedelta(days=20))
    for row in (fresh, stale_payload, ancient):
        RequestPayload.objects.create(request=row, data={})
    status, body = post(api_client, "/api/maintenance/cleanup")
    assert status == 200
    assert (body["removedRequests"], body["removedPayloads"]) == (1, 2)
    assert body["cutoffIso"][:10] == (now - timedelta(days=2)).date().isoformat()
    assert set(Request.objects.values_list("pk", flat=True)) == {fresh.pk, stale_payload.pk}
    assert list(RequestPayload.objects.values_list("pk", flat=True)) == [fresh.pk]


@pytest.mark.django_db(transaction=True)
def test_compact_runs_outside_a_transaction(api_client: Client) -> None:
    assert post(api_client, "/api/maintenance/compact") == (200, {"ok": True})


def test_log_history_reads_the_last_lines(
    api_client: Client, settings: object, tmp_path: Path
) -> None:
    settings.LOG_FILE = tmp_path / "ccflare.log"
    lines = [
        json.dumps({"ts": i, "level": "INFO", "logger": "x", "msg": f"m{i}"}) for i in range(5)
    ]
    settings.LOG_FILE.write_text("\n".join([*lines, "not json", "[1]"]) + "\n")
    assert api_client.get("/api/logs/history?lines=3").json() == [
        {"ts": 4, "level": "INFO", "msg": "m4"},
    ]
    assert len(api_client.get("/api/logs/history").json()) == 5
    assert api_client.get("/api/logs/history?lines=0").status_code == 400


def test_metrics_report_usable_accounts_and_window_use(api_client: Client) -> None:
    make_account(name="work", five_hour_utilization=0.25, seven_day_utilization=0.5)
    make_account(name="resting", paused=True)

    text = api_client.get("/metrics").content.decode()

    assert "ccflare_usable_accounts 1.0" in text
    assert 'ccflare_account_window_utilization{account="work",window="5h"} 0.25' in text
    assert 'ccflare_account_window_utilization{account="work",window="7d"} 0.5' in text


@pytest.mark.parametrize(
    "query",
    ["accounts=" + "a" * 2001, "models=" + "m" * 2001, "models=claude-%C3%A9", "accounts=a%0Ab"],
)
def test_analytics_filters_are_bounded_printable_ascii(api_client: Client, query: str) -> None:
    # Longer or encoded wider, the URL could pass the request line daphne reads (see
    # test_api_schemathesis.py), and no account or model name needs more.
    response = api_client.get(f"/api/analytics?{query}")
    assert response.status_code == 400
    assert response.json()["error"].startswith(("Invalid accounts", "Invalid models"))
