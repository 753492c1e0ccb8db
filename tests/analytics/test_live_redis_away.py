"""A Redis that is away logs a line, then a line a minute: not a traceback per live event."""

from pathlib import Path

import httpx
import pytest

from analytics.models import Request
from tests import servers
from tests.conftest import FakeUpstream, proxy_env, serving_proxy, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 10


def test_events_published_while_redis_is_away_log_one_line(
    fake_upstream: FakeUpstream, tmp_path: Path, django_db_setup: None
) -> None:
    # Nothing listens on this port: each publish is refused at once, as with Redis stopped.
    away = f"redis://127.0.0.1:{servers.free_port()}/0"
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "REDIS_URL": away}
    with serving_proxy(env) as server:
        body = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
        with httpx.Client(base_url=server.url, timeout=10) as client:
            statuses = [
                client.post("/v1/messages", json=body, headers={"x-api-key": "sk-ant-redis"})
                for _ in range(REQUESTS)
            ]
        # Each in a flush of its own (RECORDER_FLUSH_MS=20), published as it was written.
        assert wait_for(lambda: Request.objects.count() == REQUESTS, timeout=10)

    assert [reply.status_code for reply in statuses] == [200] * REQUESTS
    log = server.server_log()
    # Before: a line and a traceback for every event, dozens a second under traffic.
    assert log.count("events.publish_failed") == 1, log[-3000:]
    # The first with its traceback (one, its causes chained); nothing else went wrong.
    assert log.count("ERROR:") == 1 and "During handling" in log
