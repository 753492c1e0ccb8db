"""The requests table's indexes: the recorder writes each of them for every row."""

import pytest
from django.db import connection

from analytics.models import Request

pytestmark = pytest.mark.django_db

PRAGMAS = ("journal_mode", "synchronous", "temp_store")


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


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own settings")
def test_sqlite_runs_in_wal_mode_with_statement_journals_in_memory() -> None:
    # The recorder's multi-row INSERTs inside a transaction keep a statement journal:
    # on disk that was a temporary file created, written and deleted per flush.
    with connection.cursor() as cursor:
        settings = [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS]
    assert settings == ["wal", 1, 2]  # journal_mode, synchronous NORMAL, temp_store MEMORY
