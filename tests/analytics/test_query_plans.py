"""Reports over a window read that window, not the whole history (SQLite's query plans).

A plan that reads a whole index or table costs nothing on a test's few rows and
seconds on a year's: these look at the plan of every query a report runs. SQLite
runs without statistics here (nothing runs ANALYZE but `manage.py analyze`).
"""

import itertools
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access.models import ClientKey
from analytics.models import Request
from analytics.reporting import key_report, key_usage, queries, report
from tests.factories import make_account

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner"),
]


def plan_steps(queries: list[dict], step: str) -> list[str]:
    """The steps of the plans of `queries` on the requests table that contain `step`."""
    steps = []
    with connection.cursor() as cursor:
        for query in queries:
            if "analytics_request" not in query["sql"]:
                continue
            cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
            steps += [row[-1] for row in cursor.fetchall() if step in row[-1]]
    return steps


def full_reads(queries: list[dict]) -> list[str]:
    """The plan steps that read all of the requests table or one of its indexes."""
    return plan_steps(queries, "SCAN analytics_request")


@pytest.fixture
def history() -> None:
    """Sixty requests of two accounts, two models and two keys."""
    keys = [
        ClientKey.objects.create(name=name, secret_hash=name * 32, display=f"cck_{name}…")
        for name in ("a", "b")
    ]
    accounts = [make_account(name="alpha"), make_account(name="beta")]
    models = ["claude-sonnet-4-6", "claude-opus-4-1"]
    now = timezone.now()
    mixes = itertools.islice(itertools.cycle(itertools.product(accounts, models, keys)), 60)
    Request.objects.bulk_create(
        Request(timestamp=now - timedelta(hours=i), account=a, model=m, client_key=k)
        for i, (a, m, k) in enumerate(mixes)
    )


@pytest.mark.parametrize("window", sorted(report.RANGES))
def test_the_analytics_report_reads_only_its_window(history: None, window: str) -> None:
    # Grouped by account, model or client key, SQLite walked the index that starts
    # with the column (to spare a sort) through every request ever recorded.
    with CaptureQueriesContext(connection) as queries:
        report.build(report.Filters(range=window, model_breakdown=True))
    assert full_reads(queries.captured_queries) == []


def test_each_keys_use_in_a_window_is_read_from_that_window(history: None) -> None:
    # Every key's tallies: the pool-share budgets read them every second.
    with CaptureQueriesContext(connection) as queries:
        key_usage.tallies(None, since=time.time() - 3600)
        key_report.breakdown(Request.objects.filter(timestamp__gt=timezone.now()))
    assert full_reads(queries.captured_queries) == []


def test_the_whole_historys_stats_group_without_sorting_every_row(history: None) -> None:
    # Every row is read anyway; sorted into groups, 1.4 million of them took 146 MB.
    with CaptureQueriesContext(connection) as captured:
        queries.stats()
    # (The keys' pool shares read the last five hours, whose rows are sorted.)
    unwindowed = [q for q in captured.captured_queries if '"timestamp" >' not in q["sql"]]
    assert plan_steps(unwindowed, "TEMP B-TREE FOR GROUP BY") == []
