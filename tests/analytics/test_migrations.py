"""The analytics migrations on an install with a long history: none copies the requests.

An upgrade runs every migration the install has not applied yet on tables that may hold
millions of rows. On SQLite, Django's AlterField remakes a table (CREATE TABLE new__...,
INSERT ... SELECT, DROP, RENAME) for any change it does not know to be Python-only:
minutes on a long history, the database's size again on disk and in the WAL while it
runs. A change that needs no SQL is a SeparateDatabaseAndState, an index dropped by name.
"""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

# Not in a transaction: SQLite's schema editor, even only collecting SQL, refuses to run in one.
pytestmark = pytest.mark.django_db(transaction=True)

BIG_TABLES = ("analytics_request", "analytics_requestpayload")


def analytics_migrations() -> list[str]:
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    return sorted(name for app, name in loader.disk_migrations if app == "analytics")


def migration_sql(name: str) -> str:
    out = io.StringIO()
    call_command("sqlmigrate", "analytics", name, stdout=out)
    return out.getvalue()


def test_the_history_is_kept_across_the_migrations() -> None:
    names = analytics_migrations()
    assert "0005_request_time_ordered_id" in names
    for name in names[1:]:  # 0001 creates the tables
        sql = migration_sql(name)
        copies = [f'"new__{table}"' for table in BIG_TABLES if f'"new__{table}"' in sql]
        assert copies == [], f"{name} rebuilds {', '.join(copies)}"
        assert not any(f'DROP TABLE "{table}"' in sql for table in BIG_TABLES), name


def test_the_time_ordered_id_changes_no_sql() -> None:
    # lib.ids.uuid7 is the field's Python default; the column is the same before and after.
    sql = migration_sql("0005_request_time_ordered_id")
    statements = [
        line
        for line in sql.splitlines()
        if line.strip() and not line.startswith("--") and line not in ("BEGIN;", "COMMIT;")
    ]
    assert statements == []
