"""Every /api/ route needs a staff session or an API token; errors and unknown paths are JSON."""

import json
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ccflare_site.api import api

pytestmark = pytest.mark.django_db


def operations(*, secured: bool) -> list[tuple[str, str]]:
    """(method, path with dummy parameters) for each operation of the OpenAPI schema."""
    found = []
    for path, methods in api.get_openapi_schema()["paths"].items():
        for method, operation in methods.items():
            if bool(operation.get("security")) == secured:
                found.append((method, re.sub(r"\{[^}]+\}", "x", path)))
    return found


SECURED = operations(secured=True)


def test_every_secured_operation_is_listed() -> None:
    paths = {path for _, path in SECURED}
    assert {"/api/stats", "/api/accounts", "/api/analytics", "/metrics",
            "/api/requests/stream", "/api/logs/stream"} <= paths  # fmt: skip
    assert ("get", "/health") in operations(secured=False)


@pytest.mark.parametrize(("method", "path"), SECURED)
def test_401_without_credentials(client: Client, method: str, path: str) -> None:
    response = client.generic(method.upper(), path, "{}", content_type="application/json")
    assert response.status_code == 401
    assert "error" in response.json()


@pytest.mark.parametrize(("method", "path"), SECURED)
def test_401_with_a_wrong_token(method: str, path: str) -> None:
    client = Client(headers={"Authorization": "Bearer cct_not-a-real-token"})
    response = client.generic(method.upper(), path, "{}", content_type="application/json")
    assert response.status_code == 401


def test_revoked_token_is_refused(api_client: Client) -> None:
    from access import credentials

    assert api_client.get("/api/stats").status_code == 200
    credentials.revoke_api_token(name="tests")
    assert api_client.get("/api/stats").status_code == 401


def test_staff_session_works_and_needs_csrf_for_changes(staff_client: Client) -> None:
    assert staff_client.get("/api/stats").status_code == 200
    response = staff_client.post("/api/stats/reset")
    assert response.status_code == 403
    assert response.json() == {"error": "CSRF check Failed"}
    staff_client.get("/admin/")  # a page with a form sets the csrftoken cookie
    token = staff_client.cookies["csrftoken"].value
    assert staff_client.post("/api/stats/reset", HTTP_X_CSRFTOKEN=token).status_code == 200


def test_non_staff_session_is_forbidden(client: Client) -> None:
    client.force_login(User.objects.create_user("visitor", password="pw"))
    response = client.get("/api/stats")
    assert (response.status_code, response.json()) == (403, {"error": "Staff access required"})


def test_docs_and_schema_need_the_same_login(client: Client, api_client: Client) -> None:
    for path in ("/api/docs", "/api/openapi.json", "/api/stats"):
        refused = client.get(path)
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"] == "Bearer"
        assert refused.json() == client.get("/api/stats").json()
    client.force_login(User.objects.create_user("visitor", password="pw"))
    for path in ("/api/docs", "/api/openapi.json"):
        assert client.get(path).json() == {"error": "Staff access required"}
        assert client.get(path).status_code == 403
    page = api_client.get("/api/docs")
    assert page.status_code == 200
    # Swagger UI's files come from this server, never a CDN.
    assert b"/static/ninja/swagger-ui-bundle.js" in page.content
    assert b"https://" not in page.content
    schema = api_client.get("/api/openapi.json").json()
    assert "/api/analytics" in schema["paths"]


@pytest.mark.parametrize("path", ["/api/nope", "/api/", "/api/stats/extra", "/api/v1/messages"])
def test_unknown_api_paths_are_json_404(api_client: Client, path: str) -> None:
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "error" in json.loads(response.content)


def test_malformed_json_body_is_400(api_client: Client) -> None:
    response = api_client.post("/api/config/retention", "{", content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.parametrize("path", ["/api/stats", "/api/accounts", "/metrics", "/api/config"])
def test_a_head_of_an_api_route_is_answered_as_its_get(api_client: Client, path: str) -> None:
    got = api_client.get(path)
    head = api_client.head(path)

    # Its body is dropped by the server (test_server_hardening.py), not here.
    assert head.status_code == got.status_code == 200
    assert head["Content-Type"] == got["Content-Type"]


def test_a_head_of_a_live_stream_is_its_head_alone(api_client: Client) -> None:
    # The stream itself never starts (it would run until the client left).
    head = api_client.head("/api/requests/stream")

    assert head.status_code == 200
    assert head["Content-Type"].startswith("text/event-stream")
    assert not head.streaming


def test_a_head_is_refused_as_its_get_would_be(client: Client, api_client: Client) -> None:
    assert client.head("/api/stats").status_code == 401
    assert api_client.head("/api/nope").status_code == 404
    assert api_client.head("/api/stats/reset").status_code == 405  # a POST route
