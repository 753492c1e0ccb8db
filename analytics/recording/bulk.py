"""A lean bulk INSERT for the recorder: Django's bulk_create costs ~0.4 ms of CPU per row.

Most of that is per-field SQL compilation that never changes between rows. Here the
statement and the list of fields that need converting are worked out once per model;
each row is then a tuple of attribute reads plus a few conversions (UUIDs, datetimes,
JSON, decimals) through the fields' own `get_db_prep_save`, so the stored values are
exactly what the ORM would store, on SQLite and PostgreSQL alike.

Rows go in as multi-row INSERTs (as many as the backend takes parameters for), not
`executemany`: sqlite3 lets go of the GIL for every row it steps, and under load the
recorder's thread then waited for the event loop to give it back after each one, so it
fell behind by thousands of records (docs/performance.md). One statement per chunk is one
wait.
"""

import sqlite3
from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import Any

from django.db import connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

# Rows per statement at most: PostgreSQL's backend sets no limit of its own, but a
# statement takes at most 65,535 parameters (a backlog after an outage can be 50,000 rows).
MAX_ROWS = 500
# Fields whose Python value is already what the database driver takes.
_PLAIN = (
    models.IntegerField,
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.FloatField,
)


@cache
def _plan(model: type[models.Model]) -> list[tuple[str, Callable | None]]:
    """Per column, the attribute and its converter (None: stored as it is)."""
    return [
        (f.attname, None if _is_plain(f) else _converter(f)) for f in model._meta.concrete_fields
    ]


@cache
def _statement(model: type[models.Model], rows: int, placeholder: str) -> str:
    """The INSERT of `rows` rows of `model` (a few sizes recur: the chunk, the remainder)."""
    fields = model._meta.concrete_fields
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join([placeholder] * len(fields)) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([row] * rows)


def _execute(conn: BaseDatabaseWrapper, cursor: Any) -> tuple[Callable[[str, list], Any], str]:
    """How to run a statement on this backend, and its placeholder.

    Django's SQLite cursor rewrites each statement's `%s` into `?` with a regex, every
    time: for a statement of a thousand placeholders that was 2% of the server's CPU
    under load. The statement is written with `?` once instead and run on sqlite3's own
    cursor (the caller keeps Django's error translation around it).
    """
    if conn.vendor == "sqlite":
        raw = cursor.cursor  # Django's SQLiteCursorWrapper, a sqlite3.Cursor
        return partial(sqlite3.Cursor.execute, raw), "?"
    return cursor.execute, "%s"


def _is_plain(field: models.Field) -> bool:
    # Subclasses such as EncryptedTextField change the stored value: convert those.
    return type(field) in _PLAIN or (
        isinstance(field, _PLAIN) and type(field).get_prep_value is models.Field.get_prep_value
    )


def _converter(field: models.Field) -> Callable[[Any, BaseDatabaseWrapper], Any]:
    return field.get_db_prep_save


def insert(objects: Sequence[Any], model: type[models.Model] | None = None) -> None:
    """INSERT the given unsaved instances of one model (pre_save hooks and signals skipped).

    With `model` given, `objects` may be any objects with its fields' attribute names
    (e.g. the recorder's slotted rows): building a Model instance per row costs more
    than the insert itself (Model.__init__ sends pre_init and post_init each time).
    """
    if not objects:
        return
    table: type[models.Model] = model if model is not None else type(objects[0])
    converters = _plan(table)
    conn = connections["default"]  # resolved once: the proxy object costs per attribute
    params = [
        getattr(obj, name) if conv is None else conv(getattr(obj, name), conn)
        for obj in objects
        for name, conv in converters
    ]
    fields = table._meta.concrete_fields
    per_statement = max(1, min(MAX_ROWS, conn.ops.bulk_batch_size(fields, objects)))
    width = len(converters)
    with conn.cursor() as cursor, conn.wrap_database_errors:
        execute, placeholder = _execute(conn, cursor)
        for first in range(0, len(objects), per_statement):
            rows = min(per_statement, len(objects) - first)
            chunk = params[first * width : (first + rows) * width]
            execute(_statement(table, rows, placeholder), chunk)
