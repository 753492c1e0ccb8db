"""A graceful shutdown (SIGTERM) writes every queued record before the process exits."""

from pathlib import Path

import httpx
import pytest

from analytics.models import Request
from tests import servers
from tests.conftest import FakeUpstream, proxy_env
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)


def test_sigterm_drains_the_record_queue(
    fake_upstream: FakeUpstream, tmp_path: Path, django_db_setup: None
) -> None:
    make_account(name="only", api_key="sk-ant-api03-drain-test-key-0001")
    env = {
        **proxy_env(data_dir=tmp_path, upstream=fake_upstream),
        # Nothing is written during the test: only the shutdown drain can write.
        "RECORDER_FLUSH_MS": "600000",
    }
    process, port = servers.start_proxy_server(env=env)
    try:
        body = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
        for _ in range(5):
            response = httpx.post(f"http://127.0.0.1:{port}/v1/messages", json=body)
            assert response.status_code == 200
        assert Request.objects.count() == 0
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0
    assert Request.objects.count() == 5
