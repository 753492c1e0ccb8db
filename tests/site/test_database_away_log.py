"""A database outage logs a line, then a line a minute: not a line and a traceback a request."""

from pathlib import Path

import httpx
import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from tests import servers
from tests.conftest import FakeUpstream, proxy_env, serving_proxy


def test_many_api_calls_and_pages_in_an_outage_log_one_line(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    # As PostgreSQL stopped: each connection is refused at once.
    unreachable = f"postgres://ccflare:ccflare@127.0.0.1:{servers.free_port()}/ccflare"
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "DATABASE_URL": unreachable}
    with serving_proxy(env) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        api = [
            client.get("/api/accounts", headers={"Authorization": "Bearer cck_any"})
            for _ in range(10)
        ]
        page = client.get("/admin/login/")  # its form needs no database
        logins = [
            client.post(
                "/admin/login/",
                data={"username": "admin", "password": "pw", "csrfmiddlewaretoken": token},
            )
            for token in [page.cookies["csrftoken"]] * 3
        ]

    assert [reply.status_code for reply in api + logins] == [503] * 13
    assert "Connection refused" in api[-1].json()["error"]
    log = server.server_log()
    assert "[django.request]" not in log, log[-3000:]
    assert log.count("web.database_away path=") == 1, log[-3000:]


def broken(request: HttpRequest) -> HttpResponse:
    raise ValueError("a bug")


urlpatterns = [path("broken/", broken)]


@pytest.mark.urls(__name__)
def test_any_other_error_is_still_logged_by_django_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    browser = Client(raise_request_exception=False)

    replies = [browser.get("/broken/") for _ in range(3)]

    assert [reply.status_code for reply in replies] == [500] * 3
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.exc_info is not None) for r in logged] == [("ERROR", True)] * 3
