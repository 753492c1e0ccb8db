"""A process that only proxies (and answers /health) never loads the API: about 12 MB less.

django-ninja and pydantic load with Django's URLs, at the first request for a page or the
API; /v1/ and /health are answered ahead of them (docs/performance.md). pydantic's compiled
core shows in the server's memory map once it is loaded.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.conftest import FakeUpstream, proxy_env
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-ant-api03-lazy-api-account-key-0001"
MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}


@pytest.fixture
def fresh_server(fake_upstream: FakeUpstream, tmp_path: Path) -> Iterator[tuple[str, int]]:
    env = proxy_env(data_dir=tmp_path, upstream=fake_upstream)
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
        yield f"http://127.0.0.1:{port}", process.pid
        servers.stop(process)


def api_loaded(pid: int) -> bool:
    return "_pydantic_core" in Path(f"/proc/{pid}/maps").read_text()


def test_proxying_and_health_checks_leave_the_api_unloaded_until_it_is_used(
    fresh_server: tuple[str, int],
) -> None:
    url, pid = fresh_server
    make_account(name="lazy", api_key=KEY)

    health = httpx.get(f"{url}/health")
    proxied = httpx.post(f"{url}/v1/messages", json=MESSAGE, headers={"x-api-key": "c"})

    assert (health.status_code, health.json()["accounts"]) == (200, 1)
    assert health.headers["content-type"] == "application/json; charset=utf-8"
    assert proxied.status_code == 200
    assert not api_loaded(pid)
    assert httpx.get(f"{url}/api/docs").status_code == 401  # Django's URLs, and the API
    assert api_loaded(pid)


def test_health_refuses_a_foreign_host_and_other_methods(fresh_server: tuple[str, int]) -> None:
    url, _ = fresh_server

    foreign = httpx.get(f"{url}/health", headers={"host": "evil.example"})
    posted = httpx.post(f"{url}/health")

    assert (foreign.status_code, foreign.json()) == (400, {"error": "Invalid Host header"})
    assert (posted.status_code, posted.headers["allow"]) == (405, "GET, HEAD")
