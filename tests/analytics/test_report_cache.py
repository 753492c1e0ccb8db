"""A slow report is reused for a while, a quick one never (analytics.reporting.report_cache).

Whether a report counts as slow is the module's threshold, set here to make each case:
a real slow one needs a database of 100,000 requests.
"""

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection  # noqa: F401 (the skipif reads it)
from django.test import Client

from analytics.models import Request
from analytics.reporting import report_cache
from tests.factories import make_request

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 10, 12, 30, tzinfo=UTC)


def requests_counted(client: Client, at: datetime, query: str = "") -> int:
    with time_machine.travel(at, tick=False):
        response = client.get(f"/api/analytics{query}")
    assert response.status_code == 200, response.content
    return response.json()["totals"]["requests"]


def stats_counted(client: Client, at: datetime, query: str = "") -> int:
    with time_machine.travel(at, tick=False):
        response = client.get(f"/api/stats{query}")
    assert response.status_code == 200, response.content
    return response.json()["totalRequests"]


@pytest.fixture
def every_report_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_cache, "SLOW_SECONDS", 0.0)


@pytest.mark.usefixtures("every_report_slow")
def test_a_slow_report_is_reused_for_a_while_then_built_again(api_client: Client) -> None:
    make_request(timestamp=NOW - timedelta(minutes=5))
    assert requests_counted(api_client, NOW) == 1

    make_request(timestamp=NOW - timedelta(minutes=1))
    later = NOW + timedelta(seconds=report_cache.MIN_REUSE_SECONDS / 2)

    assert requests_counted(api_client, later) == 1
    # Other filters are another report.
    assert requests_counted(api_client, later, "?range=7d") == 2
    expired = NOW + timedelta(seconds=report_cache.MAX_REUSE_SECONDS)
    assert requests_counted(api_client, expired) == 2


@pytest.mark.usefixtures("every_report_slow")
def test_slow_stats_are_reused_as_reports_are_and_per_client_key(api_client: Client) -> None:
    make_request(timestamp=NOW - timedelta(minutes=5))
    assert stats_counted(api_client, NOW) == 1
    assert stats_counted(api_client, NOW, "?clientKey=no_key") == 1

    make_request(timestamp=NOW - timedelta(minutes=1))
    later = NOW + timedelta(seconds=report_cache.MIN_REUSE_SECONDS / 2)

    assert stats_counted(api_client, later) == 1
    assert stats_counted(api_client, later, "?clientKey=no_key") == 1
    assert stats_counted(api_client, later, "?clientKey=no_key,other") == 2
    expired = NOW + timedelta(seconds=report_cache.MAX_REUSE_SECONDS)
    assert stats_counted(api_client, expired) == 2


def test_a_quick_report_is_built_afresh_every_time(
    api_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_cache, "SLOW_SECONDS", 60.0)
    make_request(timestamp=NOW - timedelta(minutes=5))
    assert requests_counted(api_client, NOW) == 1

    make_request(timestamp=NOW - timedelta(minutes=1))

    assert requests_counted(api_client, NOW) == 2


@pytest.mark.usefixtures("every_report_slow")
def test_clearing_the_history_drops_the_kept_reports(api_client: Client) -> None:
    make_request(timestamp=NOW - timedelta(minutes=5))
    assert requests_counted(api_client, NOW) == 1

    with time_machine.travel(NOW, tick=False):
        assert api_client.post("/api/stats/reset").status_code == 200

    assert requests_counted(api_client, NOW) == 0


@pytest.mark.usefixtures("every_report_slow")
def test_a_history_cleared_by_another_process_drops_this_ones_kept_reports(
    api_client: Client,
) -> None:
    # `manage.py clear_history`, or another worker's reset: the server went on answering
    # with the report it kept, counting requests that were gone, for up to a minute.
    make_request(timestamp=NOW - timedelta(minutes=5))
    assert requests_counted(api_client, NOW) == 1
    assert stats_counted(api_client, NOW) == 1
    kept = dict(report_cache._kept)

    report_cache.forget()  # as the other process does: it writes the mark in the database
    report_cache._kept.update(kept)  # ... and this process's reports stay in its memory
    Request.objects.all().delete()

    assert requests_counted(api_client, NOW) == 0
    assert stats_counted(api_client, NOW) == 0


@pytest.mark.usefixtures("every_report_slow")
def test_a_retention_cleanup_that_removes_requests_drops_the_kept_reports(
    api_client: Client,
) -> None:
    make_request(timestamp=NOW - timedelta(days=3))
    assert requests_counted(api_client, NOW, "?range=7d") == 1

    with time_machine.travel(NOW, tick=False):
        set_days = api_client.post(
            "/api/config/retention", {"requestDays": 1}, content_type="application/json"
        )
        assert set_days.status_code == 204, set_days.content
        assert api_client.post("/api/maintenance/cleanup").json()["removedRequests"] == 1

    assert requests_counted(api_client, NOW, "?range=7d") == 0


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="on PostgreSQL the wall time counts")
def test_a_report_that_waited_without_working_is_not_kept(
    api_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A machine busy with other work made a small install's report take long by the clock;
    # kept for ten times as long, the dashboard showed a stale count.
    build = report_cache.report.build

    def waiting_build(filters: object) -> dict:
        time.sleep(report_cache.SLOW_SECONDS * 2)
        return build(filters)

    monkeypatch.setattr(report_cache.report, "build", waiting_build)
    make_request(timestamp=NOW - timedelta(minutes=5))
    assert requests_counted(api_client, NOW) == 1

    make_request(timestamp=NOW - timedelta(minutes=1))

    assert requests_counted(api_client, NOW + timedelta(seconds=1)) == 2
