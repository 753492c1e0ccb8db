"""A page whose database cannot answer is a 503 saying so, not Django's bare 500."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from ccflare_site import errors
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser() -> Client:
    # A browser gets the error page; Django's test client would raise instead.
    return Client(raise_request_exception=False)


def test_the_admin_login_on_a_database_that_refuses_writes_is_a_503_saying_why(
    browser: Client, refuse_writes: Callable[[], None]
) -> None:
    # A full disk: the login's session write failed, and the user saw "Server Error (500)".
    User.objects.create_superuser("admin", password="pw")
    refuse_writes()

    response = browser.post("/admin/login/", {"username": "admin", "password": "pw"})

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "The database cannot answer right now" in page
    assert "readonly" in page or "read-only" in page  # the database's own reason


def test_a_dashboard_page_while_the_database_server_is_down_is_a_503(
    browser: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser.force_login(User.objects.create_user("staff", password="pw", is_staff=True))
    make_account(name="work")
    connection.close()

    def refused() -> None:
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')

    # As PostgreSQL stopped or restarting: every new connection is refused.
    monkeypatch.setattr(connection, "get_new_connection", lambda params: refused())
    response = browser.get("/dashboard/accounts/")
    monkeypatch.undo()

    assert response.status_code == 503
    assert "port 5432 failed" in response.content.decode()


def test_any_other_error_is_still_django_own_500() -> None:
    request = RequestFactory().get("/dashboard/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = errors.server_error(request)
    assert response.status_code == 500
    assert b"The database" not in response.content
