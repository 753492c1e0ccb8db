"""The requests table's indexes: the recorder writes each of them for every row."""

import ctypes
import ctypes.util
import sqlite3
import time

import pytest
from django.db import connection
from django.db.models import QuerySet

from analytics.models import Request
from analytics.reporting import key_usage, queries
from tests.factories import make_request

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
def test_sqlite_runs_in_wal_mode_with_temporary_data_in_files() -> None:
    # Files: a report's sort of its whole range stays within SQLite's page cache (the
    # test below). The recorder's connection alone keeps it in memory (test_write_behind).
    with connection.cursor() as cursor:
        settings = [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS]
    assert settings == ["wal", 1, 1, 64 << 20]  # synchronous NORMAL, temp_store FILE
    # journal_size_limit: a WAL that grew with a VACUUM under traffic shrinks once it
    # starts over, rather than staying as large as the database.


def sqlite_library() -> ctypes.CDLL:
    """The SQLite library that Python's sqlite3 uses, for its memory counters."""
    path = ctypes.util.find_library("sqlite3")
    if path is None:
        pytest.skip("no shared SQLite library to read the memory counters of")
    library = ctypes.CDLL(path)
    library.sqlite3_memory_used.restype = ctypes.c_int64
    library.sqlite3_memory_highwater.restype = ctypes.c_int64
    library.sqlite3_libversion.restype = ctypes.c_char_p
    if library.sqlite3_libversion().decode() != sqlite3.sqlite_version:
        pytest.skip("Python's sqlite3 is built on another SQLite than the shared library")
    return library


def copy_request(times: int) -> None:
    """`times` more rows like the one request in the table, each with an id of its own."""
    columns = [field.column for field in Request._meta.concrete_fields]
    names = ", ".join(f'"{column}"' for column in columns)
    values = ", ".join(
        "lower(hex(randomblob(16)))" if column == "id" else f'"{column}"' for column in columns
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
            f"INSERT INTO analytics_request ({names}) SELECT {values} FROM analytics_request, n",
            [times],
        )


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's temporary storage")
def test_a_report_over_a_long_history_sorts_within_bounded_memory() -> None:
    # /api/stats groups the whole history (the report its range) by key, account and
    # model: SQLite sorts every row for that. With temp_store=MEMORY the sort had no
    # bound (11 MB for 90,000 rows in a soak, per report at once), and the server's heap
    # kept its high-water mark: the worker grew about 40 MB an hour under a dashboard.
    sqlite = sqlite_library()
    make_request(model="claude-sonnet-4-5", input_tokens=10, output_tokens=5)
    copy_request(120_000)
    sqlite.sqlite3_memory_highwater(1)  # reset to what is in use now
    before = sqlite.sqlite3_memory_used()

    stats = queries.stats()

    assert stats["totalRequests"] == 120_001
    # Within a few of its 2 MB page caches (11-14 MB in memory for these rows).
    assert sqlite.sqlite3_memory_highwater(0) - before < 6 << 20
