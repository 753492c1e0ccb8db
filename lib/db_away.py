"""What a thread that keeps its database connection does after the database failed it.

Closing it each time, as after any error, leaked a file per try on SQLite: SQLite keeps
a closed connection's file open while another connection of the process holds a lock on
the database, and in WAL mode every open connection does. A failed write leaves a SQLite
connection usable, except one opened read-only (SQLite falls back to that when it cannot
open the file for writing): that one would stay read-only after the cause is fixed.
"""

import contextlib
from collections.abc import Iterator

from django.db import InterfaceError, InternalError, OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper

# The database cannot take a query now, whatever the query: down, restarting, locked,
# out of space, a read-only file; InternalError is PostgreSQL's read-only transaction (a
# cloud database whose disk filled, a standby after a failover). Another failure (a
# value refused, a constraint) is about what was asked.
AWAY = (OperationalError, InterfaceError, InternalError)

# A read-only SQLite connection is dropped on the first failure and then on every
# REOPEN_EVERY-th: often enough to write again soon after the cause is fixed (about 30 s
# at the recorder's longest backoff), rarely enough not to pile up files meanwhile.
REOPEN_EVERY = 6


def after_failure(error: BaseException, failures: int = 1) -> None:
    """Keep the thread's connection if it can serve the next try, else drop it.

    `failures`: the failed tries in a row, this one included.
    """
    if connection.vendor != "sqlite":
        connection.close()  # PostgreSQL: the connection itself may be what broke
    elif "readonly" in str(error) and failures % REOPEN_EVERY == 1:
        connection.close()
    # Else kept as it is (not even Django's age check: CONN_MAX_AGE=0 would close it).


def check_connection() -> None:
    """Before work done outside a request: drop the thread's connection if it cannot serve.

    Django does this at each request's start; the threads that query for the proxy
    (the async ORM's, for token refreshes and the usage poll) have no requests. A
    PostgreSQL restart closes their connection underneath, and each query then failed
    on it until a server restart. One round trip (`SELECT 1`) on PostgreSQL; SQLite's
    connection is always usable.
    """
    if connection.connection is not None and not connection.is_usable():
        connection.close()


@contextlib.contextmanager
def lock_wait_at_most(seconds: float) -> Iterator[None]:
    """Within the block, this thread's SQLite connection waits at most `seconds` for
    another connection's lock (never longer than its configured busy timeout).

    PostgreSQL is left as it is: a lock wait there lasts as long as the lock, except in a
    page's or API call's statements, which end after its answer deadline
    (ccflare_site.answer_deadline, end_statements_after below).
    """
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    (configured,) = raw.execute("PRAGMA busy_timeout").fetchone()
    raw.execute(f"PRAGMA busy_timeout = {max(0, min(configured, int(seconds * 1000)))}")
    try:
        yield
    finally:
        # A read-only connection is dropped after a failure (after_failure): nothing to restore.
        if connection.connection is raw:
            raw.execute(f"PRAGMA busy_timeout = {configured}")


def end_statements_after(wrapper: BaseDatabaseWrapper, seconds: float) -> None:
    """PostgreSQL cancels each later statement on `wrapper`'s connection that runs past
    `seconds`, a wait on a lock included (the statement fails with OperationalError).

    For a connection just made (connection_created), before any transaction: a SET
    made inside one would be undone with it. SQLite's waits are bounded by its busy
    timeout already; it is left as it is.
    """
    if wrapper.vendor != "postgresql":
        return
    with wrapper.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, false)", [f"{round(seconds * 1000)}ms"]
        )
