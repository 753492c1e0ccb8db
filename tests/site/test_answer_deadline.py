"""A page or API call whose database does not answer gets a 503 in time, not a hang."""

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from axes.models import AccessAttempt
from django.db import connection

from accounts.models import Account
from tests import servers
from tests.conftest import ProxyServer, wait_for
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE_SECONDS = 1
# The application name the impatient server gives its PostgreSQL connections (libpq
# reads PGAPPNAME), so that a test can find its backends among the others.
IMPATIENT_APP = "ccflare-impatient"


@contextmanager
def locked(*tables: str) -> Iterator[None]:
    """Another connection holds a lock the server's queries wait on.

    SQLite: the database's write lock (a write waits out the busy timeout, 5 s).
    PostgreSQL: the tables, for as long as the lock is held (no lock timeout).
    """
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        other = sqlite3.connect(db["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    credentials = {"user": db["USER"], "password": db["PASSWORD"], "host": db["HOST"]}
    with psycopg.connect(dbname=db["NAME"], port=db["PORT"] or 5432, **credentials) as other:
        other.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        yield
        other.rollback()


@pytest.fixture
def impatient(proxy: ProxyServer) -> Iterator[str]:
    """A second server on the same database whose pages and API answer within 1 s."""
    env = {
        **proxy.env,
        "ANSWER_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
        "PGAPPNAME": IMPATIENT_APP,
    }
    process, port = servers.start_proxy_server(env=env)
    yield f"http://127.0.0.1:{port}"
    servers.stop(process)


def test_an_api_call_the_database_holds_up_gets_a_503_in_time(
    impatient: str, api_token: str
) -> None:
    account = make_account(name="held-up")
    headers = {"Authorization": f"Bearer {api_token}"}
    with locked(Account._meta.db_table):
        started = time.monotonic()
        held = httpx.post(f"{impatient}/api/accounts/held-up/pause", headers=headers, timeout=30)
        waited = time.monotonic() - started

    assert held.status_code == 503, held.text
    assert "did not answer" in held.json()["error"]
    assert held.headers["retry-after"] == "5"
    assert waited < 4, f"answered after {waited:.1f} s"
    # The pause went through once the lock was let go, as the 503 warns it may.
    wait_for(lambda: Account.objects.get(pk=account.pk).paused)
    after = httpx.get(f"{impatient}/api/accounts", headers=headers, timeout=10)
    assert after.status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's lock waits")
def test_api_calls_a_lock_holds_up_do_not_keep_waiting_after_their_503(
    impatient: str, api_token: str
) -> None:
    # Their queries went on waiting for as long as the lock was held, each keeping a
    # connection: a lock held for long enough used up PostgreSQL's max_connections.
    make_account(name="held-up")
    headers = {"Authorization": f"Bearer {api_token}"}
    with locked(Account._meta.db_table), httpx.Client(timeout=30) as client:
        with ThreadPoolExecutor(max_workers=5) as pool:
            calls = pool.map(
                lambda _: client.get(f"{impatient}/api/accounts", headers=headers), range(5)
            )
            statuses = [call.status_code for call in calls]

        # Their queries end soon after the 503s, while the lock is still held.
        freed = wait_for(lambda: waiting_on_locks(IMPATIENT_APP) == 0, timeout=10)
        left = waiting_on_locks(IMPATIENT_APP)

    assert statuses == [503] * 5
    assert freed, f"{left} queries still wait on the lock"


def waiting_on_locks(application_name: str) -> int:
    """How many backends of `application_name` wait on a lock now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND wait_event_type = 'Lock'",
            [application_name],
        )
        (count,) = cursor.fetchone()
    return count


def test_a_page_the_database_holds_up_gets_the_database_page(impatient: str) -> None:
    # The server's first page loads the admin's code and templates, which on a busy
    # machine alone can take longer than the deadline: the page is asked for until it
    # comes in time.
    def login_page() -> httpx.Response | None:
        reply = httpx.get(f"{impatient}/admin/login/", timeout=10)
        return reply if reply.is_success else None

    page = wait_for(login_page, timeout=60)
    assert page is not None, "the login page never came within the deadline"
    # A wrong password writes django-axes' count of failures.
    with locked(AccessAttempt._meta.db_table):
        login = {"username": "nobody", "password": "wrong"}
        started = time.monotonic()
        held = httpx.post(
            f"{impatient}/admin/login/",
            data={**login, "csrfmiddlewaretoken": page.cookies["csrftoken"]},
            cookies=page.cookies,
            timeout=30,
        )
        waited = time.monotonic() - started

    assert held.status_code == 503, held.text[:300]
    assert "The database cannot answer right now" in held.text
    assert "did not answer" in held.text
    assert waited < 4, f"answered after {waited:.1f} s"


def test_a_reset_of_the_whole_history_has_no_deadline(impatient: str, api_token: str) -> None:
    # On a long history it rightly takes minutes: a 503 said the database was away.
    make_account(name="counted", request_count=5)
    headers = {"Authorization": f"Bearer {api_token}"}
    held = threading.Event()

    def hold_for_a_while() -> None:
        with locked(Account._meta.db_table):
            held.set()
            time.sleep(3 * DEADLINE_SECONDS)

    holder = threading.Thread(target=hold_for_a_while)
    holder.start()
    try:
        held.wait(10)
        reset = httpx.post(f"{impatient}/api/stats/reset", headers=headers, timeout=30)
    finally:
        holder.join()

    assert reset.status_code == 200, reset.text
    assert Account.objects.get(name="counted").request_count == 0
