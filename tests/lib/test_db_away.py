"""After a failure, a thread's SQLite connection is kept unless it was opened read-only.

Closing it each time leaked a file per try: SQLite keeps a closed connection's file open
while other connections of the process hold locks on the database (all do, in WAL mode).
"""

import pytest
from django.db import OperationalError, connection

from lib import db_away

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's files"),
]


def test_a_failed_write_keeps_the_connection() -> None:
    connection.ensure_connection()
    before = connection.connection

    db_away.after_failure(OperationalError("database is locked"), failures=1)

    assert connection.connection is before


@pytest.mark.parametrize(("failures", "closed"), [(1, True), (2, False), (6, False), (7, True)])
def test_a_read_only_connection_is_dropped_now_and_then(failures: int, closed: bool) -> None:
    connection.ensure_connection()
    before = connection.connection

    db_away.after_failure(OperationalError("attempt to write a readonly database"), failures)

    assert (connection.connection is not before) == closed
