"""A thread's PostgreSQL connection closed underneath (a server restart) is replaced."""

import pytest
from django.db import connection

from lib import db_away

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connections"),
]


def test_a_connection_the_server_closed_is_replaced_before_the_next_query() -> None:
    connection.ensure_connection()
    connection.connection.close()  # as after `pg_ctl restart`

    db_away.check_connection()

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_live_connection_is_kept() -> None:
    connection.ensure_connection()
    before = connection.connection

    db_away.check_connection()

    assert connection.connection is before
