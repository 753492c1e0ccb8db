"""Every answer under /api/ is JSON, also those Django gives before or around the routes."""

from collections.abc import Callable

import pytest
from django.test import Client

from analytics.reporting import queries
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(api_token: str) -> Client:
    """An API-token client with CSRF checks on, as every real client has them."""
    return Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {api_token}"})


def test_unknown_post_path_with_a_token_is_a_json_404(token_client: Client) -> None:
    response = token_client.post("/api/no-such-thing", "{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"error": "Unknown API path: /api/no-such-thing"}


def test_the_api_root_without_its_slash_is_a_json_404_too(token_client: Client) -> None:
    response = token_client.get("/api")
    assert response.status_code == 404
    assert response.json() == {"error": "Unknown API path: /api"}


def test_unknown_post_path_of_a_session_without_csrf_token_is_a_json_404(
    staff_client: Client,
) -> None:
    # No view answers, so nothing is changed and there is nothing for CSRF to protect.
    response = staff_client.post("/api/no-such-thing")
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")


def test_a_known_route_of_a_session_still_needs_the_csrf_token(staff_client: Client) -> None:
    response = staff_client.post("/api/stats/reset")
    assert response.status_code == 403
    assert "error" in response.json()


@pytest.mark.parametrize("path", ["/api/requests/%2F%0A", "/api/requests/a%0A", "/api/%0A"])
def test_encoded_slash_or_newline_in_the_path_is_a_json_404(
    token_client: Client, path: str
) -> None:
    response = token_client.get(path)
    assert response.status_code == 404
    assert "error" in response.json()


def test_a_method_the_route_does_not_take_is_a_json_405_naming_the_allowed_ones(
    token_client: Client,
) -> None:
    response = token_client.delete("/api/stats")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response.json() == {"error": "Method DELETE is not allowed here; allowed: GET"}


def test_metrics_is_the_apis_too_its_405_is_json(token_client: Client) -> None:
    # /metrics sits at the root, not under /api/: Django's empty HTML 405 reached it.
    response = token_client.post("/metrics")
    assert response.status_code == 405
    assert response.json() == {"error": "Method POST is not allowed here; allowed: GET"}


def test_an_unhandled_exception_is_a_json_500(
    api_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict:
        raise RuntimeError("a bug")

    monkeypatch.setattr(queries, "stats", broken)
    client = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {api_token}"})
    response = client.get("/api/stats")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal Server Error"}


def test_pages_outside_the_api_keep_django_answers(client: Client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db(transaction=True)
def test_a_write_the_database_refuses_is_a_503_saying_why(
    api_client: Client, refuse_writes: Callable[[], None]
) -> None:
    # A full disk gave {"error": "Internal Server Error"}; reads still answer meanwhile.
    account = make_account(name="work")
    refuse_writes()

    paused = api_client.post(f"/api/accounts/{account.pk}/pause")
    listed = api_client.get("/api/accounts")

    assert paused.status_code == 503
    assert paused.json()["error"].startswith("The database cannot take this request now: ")
    assert paused["Retry-After"] == "5"
    assert listed.status_code == 200


def test_a_body_over_djangos_limit_is_a_413_naming_it_without_a_traceback(
    api_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # It was a 400 "Bad Request" with a traceback in the log, the login form's too.
    big = b"x" * (3 * 1024 * 1024)

    api = api_client.post("/api/accounts", big, content_type="application/json")
    login = Client().post("/admin/login/", {"username": "a", "password": big.decode()})

    assert api.status_code == 413
    assert api.json() == {"error": "Request body too large: at most 2.5 MB here"}
    assert (login.status_code, login.content) == (
        413,
        b"Request body too large: at most 2.5 MB here",
    )
    logged = [r for r in caplog.records if r.name == "django.security.RequestDataTooBig"]
    assert logged and not any(r.exc_info for r in logged)
