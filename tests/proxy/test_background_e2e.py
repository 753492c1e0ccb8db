"""The running server applies retention by itself, every CLEANUP_INTERVAL_SECONDS."""

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from analytics.models import Request, RequestPayload
from tests import servers
from tests.conftest import FakeUpstream, proxy_env, wait_for
from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-ant-api03-read-ahead-key-0001"


@pytest.fixture
def cleaning_server(
    fake_upstream: FakeUpstream, tmp_path: Path, django_db_setup: None
) -> Iterator[str]:
    """A daphne of its own that runs the retention clean-up every second."""
    fake_upstream.reset()  # no rule another test left (a 529 for every call) may answer here
    env = {
        **proxy_env(data_dir=tmp_path, upstream=fake_upstream),
        "CLEANUP_INTERVAL_SECONDS": "1",
        "DATA_RETENTION_DAYS": "7",
        "REQUEST_RETENTION_DAYS": "30",
    }
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
        yield f"http://127.0.0.1:{port}"
        servers.stop(process)


def make_old_request(*, days: int) -> Request:
    row = make_request(timestamp=timezone.now() - timedelta(days=days))
    RequestPayload.objects.create(request=row, data={"request": {}, "response": {}})
    return row


def exists(row: Request) -> bool:
    return Request.objects.filter(pk=row.pk).exists()


def test_the_running_server_removes_old_rows_again_and_again(cleaning_server: str) -> None:
    make_account(name="only", api_key="sk-ant-api03-cleanup-test-key-0001")
    expired = make_old_request(days=40)
    old_payload = make_old_request(days=10)
    recent = make_old_request(days=1)
    # The background loop starts with the first proxied request.
    body = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
    assert httpx.post(f"{cleaning_server}/v1/messages", json=body).status_code == 200

    assert wait_for(lambda: not exists(expired), timeout=15)
    later = make_old_request(days=40)
    assert wait_for(lambda: not exists(later), timeout=15)  # removed by a later run
    assert not RequestPayload.objects.filter(request=old_payload).exists()
    assert exists(old_payload)
    assert RequestPayload.objects.filter(request=recent).exists()


def test_a_server_whose_database_goes_away_before_its_first_request_still_serves(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    # It read the accounts and the client keys at its first /v1/ request: a database gone
    # before that (a PostgreSQL restart after the server's) left it nothing to serve from,
    # and every request was a 503 "client keys could not be read" while it was away.
    database = tmp_path / "own.db"
    env = {
        **proxy_env(data_dir=tmp_path, upstream=fake_upstream),
        "DATABASE_URL": f"sqlite:///{database}",
        "ACCOUNT_CACHE_SECONDS": "0",
    }
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "-v", "0"], ["add_account", "own", "--api-key", KEY]):
        subprocess.run(
            [*manage, *command], cwd=servers.PROJECT_ROOT, env=servers.server_env(env),
            check=True, capture_output=True,
        )  # fmt: skip
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
    try:
        time.sleep(1.0)  # the server has been up a moment, and served nothing
        for path in tmp_path.glob("own.db*"):
            path.rename(path.with_name(f"gone-{path.name}"))  # the database is away
        body = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/messages", json=body, timeout=10)
    finally:
        servers.stop(process)

    assert answer.status_code == 200, answer.text
    assert answer.headers["x-ccflare-account"] == "own"
