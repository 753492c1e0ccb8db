"""A database failure that no wait mends, and the one line that says what the database said.

The server's start refuses such a database (ccflare_site/serve.py); every request would
otherwise be a 503 for as long as it runs. manage.py says any database failure in the
same line. A database whose migrations are not all applied is one: only `migrate` mends it.
"""

import contextlib
import sqlite3
from pathlib import Path

from django.db import DatabaseError, connections

# What manage.py and the server's start say of a database without its tables.
NOT_SET_UP = "the database is not set up yet: run `python manage.py migrate`"

# SQLite's primary result codes for a corrupt file, one that cannot be opened (its folder
# missing, a folder itself, no permission) and one that is not a database. Busy and
# locked (5, 6) pass with time; PostgreSQL's failures at start (a server still starting)
# are not judged here.
_FOR_GOOD = frozenset({11, 14, 26})


def for_good(error: DatabaseError) -> bool:
    """Whether `error` (Django's, wrapping the driver's) says the database can never serve."""
    cause = error.__cause__
    return isinstance(cause, sqlite3.Error) and cause.sqlite_errorcode & 0xFF in _FOR_GOOD


def said(error: DatabaseError) -> str:
    """What the database said, in one line (a corrupt file, a database server away)."""
    return f"the database cannot be used: {str(error).splitlines()[0]}"


def unmigrated() -> str | None:
    """Why the database lacks this version's tables, in one line; None if every migration
    is applied. Raises DatabaseError if the database cannot be read.

    Served anyway, every /v1/ request was a 503 and each logged a `no such table` traceback.
    """
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections["default"])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return None
    if not executor.loader.applied_migrations:
        return NOT_SET_UP
    missing = f"{len(plan)} migration{'s' if len(plan) > 1 else ''}"
    return f"the database lacks {missing} of this version: run `python manage.py migrate`"


def missing_sqlite_file() -> Path | None:
    """The default database's SQLite file if it does not exist yet, else None (it exists,
    or the database is PostgreSQL). Connecting to it will create it."""
    database = connections["default"].settings_dict
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return None
    path = Path(database["NAME"])
    return None if path.exists() else path


def remove_if_empty(path: Path) -> None:
    """Remove the SQLite file at `path`, with its -wal and -shm, if it holds no table.

    For a command or a start that refused a database that was not there: connecting had
    made an empty 4 KB file, which was never a database of ours.
    """
    connections.close_all()
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.Error:
        return
    if tables:
        return  # another process's `migrate` has begun meanwhile
    for made in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        with contextlib.suppress(OSError):
            made.unlink(missing_ok=True)
