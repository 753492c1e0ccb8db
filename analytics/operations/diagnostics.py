"""What `manage.py analyze` reports: row counts, indexes, and timings of the hot queries."""

import time
from collections.abc import Callable
from datetime import timedelta

from django.apps import apps
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from accounts.models import Account
from analytics.models import Request

APPS = ("access", "accounts", "analytics")


def table_rows() -> dict[str, int]:
    """Rows per table of our apps."""
    return {
        model._meta.db_table: model._default_manager.count()
        for name in APPS
        for model in apps.get_app_config(name).get_models()
    }


def indexes() -> dict[str, list[str]]:
    """Index names per table, from the database itself (portable introspection)."""
    found: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        for table in table_rows():
            constraints = connection.introspection.get_constraints(cursor, table)
            found[table] = sorted(name for name, c in constraints.items() if c["index"])
    return found


def hot_query_timings() -> dict[str, float]:
    """Milliseconds for the queries the dashboard runs most (ccflare's three samples)."""
    since = timezone.now() - timedelta(hours=24)
    samples: dict[str, Callable[[], object]] = {
        "requests in the last 24 h": lambda: Request.objects.filter(timestamp__gt=since).count(),
        "active accounts": lambda: Account.objects.filter(request_count__gt=0).count(),
        "model distribution": lambda: list(
            Request.objects.exclude(model=None).values("model").annotate(n=Count("id"))
        ),
    }
    return {name: _time_ms(run) for name, run in samples.items()}


def refresh_statistics() -> None:
    """ANALYZE: the query planner's statistics (same statement on SQLite and PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _time_ms(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return round((time.perf_counter() - start) * 1000, 2)
