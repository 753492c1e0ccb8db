"""The requests table's indexes: the recorder writes each of them for every row."""

import time

import pytest
from django.db import connection
from django.db.models import QuerySet

from analytics.models import Request
from analytics.reporting import key_usage

pytestmark = pytest.mark.django_db

PRAGMAS = ("journal_mode", "synchronous", "temp_store", "journal_size_limit")


def full_indexes() -> dict[str, tuple[str, ...]]:
    """The table's plain indexes over all its rows (not partial, unique or the key)."""
    partial = {index.name for index in Request._meta.indexes if index.condition is not None}
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Request._meta.db_table)
    return {
        name: tuple(spec["columns"])
        for name, spec in constraints.items()
        if spec["index"] and not (spec["unique"] or spec["primary_key"] or name in partial)
    }


def test_no_index_of_the_requests_table_is_the_start_of_another() -> None:
    indexes = full_indexes()
    redundant = [
        (name, other)
        for name, columns in indexes.items()
        for other, longer in indexes.items()
        if name != other and longer[: len(columns)] == columns
    ]
    assert redundant == []
    assert indexes["request_account_ts"][0] == "account_id"  # what serves lookups by account
    assert indexes["request_key_ts"][0] == "client_key_id"  # and by client key


def query_plan(rows: QuerySet) -> str:
    """SQLite's plan for `rows`, one line per step."""
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
def test_a_keys_requests_in_a_window_are_found_without_reading_its_whole_history() -> None:
    # The budgets read this every second; on client_key_id alone SQLite took every row
    # the key ever sent (a year's history: 0.3 s a read) and kept those in the window.
    rows = key_usage.counted(time.time() - 3600).filter(client_key_id__in=[1])
    assert "USING INDEX request_key_ts (client_key_id=? AND timestamp>?)" in query_plan(rows)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own settings")
def test_sqlite_runs_in_wal_mode_with_statement_journals_in_memory() -> None:
    # The recorder's multi-row INSERTs inside a transaction keep a statement journal:
    # on disk that was a temporary file created, written and deleted per flush.
    with connection.cursor() as cursor:
        settings = [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS]
    assert settings == ["wal", 1, 2, 64 << 20]  # synchronous NORMAL, temp_store MEMORY
    # journal_size_limit: a WAL that grew with a VACUUM under traffic shrinks once it
    # starts over, rather than staying as large as the database.
