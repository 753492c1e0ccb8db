"""A lean bulk INSERT for the recorder: Django's bulk_create costs ~0.4 ms of CPU per row.

Most of that is per-field SQL compilation that never changes between rows. Here the
statement and the list of fields that need converting are worked out once per model;
each row is then one attrgetter call for all its columns plus a few conversions (UUIDs,
datetimes, JSON, decimals), so the stored values are exactly what the ORM would store, on
SQLite and PostgreSQL alike. The common kinds (UUIDs, UTC datetimes, JSON, foreign keys to them)
take a short cut to the backend's own adapter, skipping the field's layers of checks that
cost a third of the recorder's CPU; every other field goes through its `get_db_prep_save`,
and tests/analytics/test_bulk.py compares the two on each backend.

Rows go in as multi-row INSERTs (as many as the backend takes parameters for), not
`executemany`: sqlite3 lets go of the GIL for every row it steps, and under load the
recorder's thread then waited for the event loop to give it back after each one, so it
fell behind by thousands of records (docs/performance.md). One statement per chunk is one
wait.
"""

import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from operator import attrgetter
from typing import Any

from django.db import connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations

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


Converter = Callable[[Any], Any]


@cache
def _plan(
    model: type[models.Model], conn: BaseDatabaseWrapper
) -> tuple[Callable[[Any], tuple], list[tuple[int, Converter]]]:
    """How to read a row's column values (one C call for all of them), and the converter
    of each column whose value is not stored as it is, by position.

    Per connection: each thread has its own, and a converter may use its backend's adapter.
    """
    fields = model._meta.concrete_fields
    get = attrgetter(*(f.attname for f in fields))
    # attrgetter of one name returns the value itself, not a tuple of one.
    read = get if len(fields) > 1 else lambda obj: (get(obj),)
    converters = [(i, converter(f, conn)) for i, f in enumerate(fields) if not _is_plain(f)]
    return read, converters


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


def converter(field: models.Field, conn: BaseDatabaseWrapper) -> Converter:
    """`field.get_db_prep_save` on `conn`, or a short cut that gives the same for its values."""
    if isinstance(field, models.ForeignKey):
        # What a foreign key stores is its target's value (ForeignKey.get_db_prep_save).
        return converter(field.target_field, conn)
    kind = type(field)
    if kind is models.UUIDField:
        return _uuid_converter(field, native=conn.features.has_native_uuid_field)
    if kind is models.JSONField:
        return _json_converter(field, conn)
    if kind is models.DateTimeField and conn.vendor == "sqlite" and conn.timezone_name == "UTC":
        return partial(_sqlite_utc_datetime, slow=partial(field.get_db_prep_save, connection=conn))
    return partial(field.get_db_prep_save, connection=conn)


@dataclass(frozen=True, slots=True)
class RawJSON:
    """JSON text already written, for a JSONField: stored as it is, not encoded again.

    The recorder writes its payloads so (write_behind.to_payload): json.dumps escapes a
    string at about 2 ns a character, 0.6 ms for the base64 of a 256 KB capture.
    """

    text: str


def _json_converter(field: models.Field, conn: BaseDatabaseWrapper) -> Converter:
    adapt_json, encoder = conn.ops.adapt_json_value, field.encoder  # type: ignore[attr-defined]
    # The base adapter stores the JSON text itself (SQLite); others wrap it (psycopg's Jsonb).
    stores_text = type(conn.ops).adapt_json_value is BaseDatabaseOperations.adapt_json_value

    class Raw(encoder or json.JSONEncoder):  # type: ignore[misc]
        def encode(self, o: Any) -> str:
            return o.text if type(o) is RawJSON else super().encode(o)

    def to_db(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is RawJSON:
            return value.text if stores_text else adapt_json(value, Raw)
        return adapt_json(value, encoder)

    return to_db


def _uuid_converter(field: models.Field, *, native: bool) -> Converter:
    def to_db(value: Any) -> Any:
        if value is None:
            return None
        if not native and type(value) is str and _CANONICAL_UUID.fullmatch(value):
            # The proxy's own ids (lib/ids.py): what UUID(value).hex gives, unparsed.
            return value.replace("-", "")
        if type(value) is not uuid.UUID:
            value = field.to_python(value)  # a string id: validated as the field does
        return value if native else value.hex

    return to_db


# A UUID in its canonical text form, lower case, as lib/ids.py writes them.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _sqlite_utc_datetime(value: Any, *, slow: Converter) -> Any:
    """What SQLite's adapter stores for a UTC datetime (naive, in UTC), without its checks."""
    if type(value) is datetime and value.tzinfo is UTC:
        return str(value.replace(tzinfo=None))
    return slow(value)


def statement_sizes(count: int, most: int) -> Iterator[int]:
    """The rows of each INSERT for `count` rows: `most` at a time, then powers of two.

    Each distinct statement stays prepared in the connection's cache (sqlite3 keeps up
    to 128), and SQLite keeps a prepared statement's last bound values until it runs
    again: with a statement for every row count from 1 to 32, the payloads of Claude
    Code's requests (up to half a MB each) grew the server by gigabytes. Powers of two
    keep that to a handful of statements.
    """
    while count >= most:
        yield most
        count -= most
    size = 1 << (most.bit_length() - 1)
    while count:
        if size <= count:
            yield size
            count -= size
        size >>= 1


def values(objects: Sequence[Any], model: type[models.Model]) -> list[Any]:
    """The column values `insert` stores for `objects`, one row after another, converted
    for the database (the recorder works them out on the event loop, see write_behind).

    Pure computation: the backend's adapters, no query and no connection opened.
    """
    read, converters = _plan(model, connections["default"])
    params: list[Any] = []
    for obj in objects:
        row = list(read(obj))
        for i, convert in converters:
            row[i] = convert(row[i])
        params += row
    return params


def insert(
    objects: Sequence[Any], model: type[models.Model] | None = None, *, most: int = MAX_ROWS
) -> None:
    """INSERT the given unsaved instances of one model (pre_save hooks and signals skipped).

    With `model` given, `objects` may be any objects with its fields' attribute names
    (e.g. the recorder's slotted rows): building a Model instance per row costs more
    than the insert itself (Model.__init__ sends pre_init and post_init each time).
    `most`: rows per statement at most (what its prepared statements keep, statement_sizes).
    """
    if not objects:
        return
    table: type[models.Model] = model if model is not None else type(objects[0])
    insert_values(table, values(objects, table), most=most)


def insert_values(model: type[models.Model], params: list[Any], *, most: int = MAX_ROWS) -> None:
    """INSERT the rows of `model` whose column values `values()` gave, one after another."""
    if not params:
        return
    conn = connections["default"]  # resolved once: the proxy object costs per attribute
    fields = model._meta.concrete_fields
    width = len(fields)
    count, partial_row = divmod(len(params), width)
    assert not partial_row, "values() of another model"
    per_statement = max(1, min(most, MAX_ROWS, conn.ops.bulk_batch_size(fields, range(count))))
    with conn.cursor() as cursor, conn.wrap_database_errors:
        execute, placeholder = _execute(conn, cursor)
        first = 0
        for rows in statement_sizes(count, per_statement):
            chunk = params[first * width : (first + rows) * width]
            execute(_statement(model, rows, placeholder), chunk)
            first += rows
