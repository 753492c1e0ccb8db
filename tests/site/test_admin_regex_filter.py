"""An admin filter the database refuses (a bad regex, a NUL) is the admin's ?e=1, not a 503."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from tests.factories import make_account

# Each request in its own transaction, as under the server: a refused query aborts one.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser() -> Client:
    # A browser gets the error page; Django's test client would raise instead.
    client = Client(raise_request_exception=False)
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


@pytest.mark.parametrize(
    ("path", "lookup"),
    [
        ("/admin/accounts/account/", {"name__regex": "("}),
        ("/admin/accounts/account/", {"name__iregex": "[a-"}),
        ("/admin/auth/user/", {"username__regex": "*"}),  # Django's own admins too
    ],
)
def test_a_malformed_regex_filter_is_the_admins_notice(
    browser: Client, path: str, lookup: dict[str, str]
) -> None:
    # SQLite's regex error is an OperationalError, which read as "the database is away".
    make_account(name="fine")

    response = browser.get(path, lookup)

    assert (response.status_code, response.get("Location")) == (302, f"{path}?e=1")
    assert browser.get(response["Location"]).status_code == 200


def test_a_filter_with_a_nul_character_is_the_admins_notice(browser: Client) -> None:
    # PostgreSQL's text cannot hold one: psycopg's DataError was a 500. SQLite finds nothing.
    # (A search for one, ?q=, never reached the database with it: it needs no mending.)
    make_account(name="fine")

    response = browser.get("/admin/accounts/account/", {"name": "a\x00b"})

    if connection.vendor == "postgresql":
        assert (response.status_code, response["Location"]) == (302, "/admin/accounts/account/?e=1")
    else:
        assert response.status_code == 200


def test_a_valid_regex_filter_still_filters(browser: Client) -> None:
    make_account(name="work-1")
    make_account(name="home")

    response = browser.get("/admin/accounts/account/", {"name__regex": "^w.*[0-9]$"})

    assert response.status_code == 200
    assert [a.name for a in response.context["cl"].result_list] == ["work-1"]
