"""Connection problems are shown in place, and the TUI reconnects by itself."""

import subprocess
from collections.abc import Iterator

import pytest

from tests import servers
from tests.conftest import ProxyServer
from tests.tui.conftest import Served, screen_text, shot, until
from tui.app import CcflareApp
from tui.client import ApiClient

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_refused_token_is_said_in_place(served: Served) -> None:
    app = CcflareApp(ApiClient(served.proxy.url, "cct_not-a-real-token"))
    async with app.run_test(size=(80, 24)) as pilot:
        text = await until(
            pilot, lambda: "refused the API token" in screen_text(app) and screen_text(app), "it"
        )
        assert "401" in text and "CCFLARE_API_TOKEN" in text
        assert "alpha" not in text
        shot(app, "refused-token")


async def test_no_server_is_said_in_place() -> None:
    url = f"http://127.0.0.1:{servers.free_port()}"
    app = CcflareApp(ApiClient(url, "cct_whatever"))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "Cannot reach the server" in screen_text(app), "the problem")
        assert url in screen_text(app)


@pytest.fixture
def restartable(proxy: ProxyServer, tmp_path) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    """A second daphne on the test database that a test can stop and start on its port."""
    env = {**proxy.env, "DATA_DIR": str(tmp_path)}
    process, port = servers.start_proxy_server(env=env, output=subprocess.DEVNULL)  # type: ignore[arg-type]
    state = {"process": process, "port": port, "env": env}
    yield state
    servers.stop(state["process"])


async def test_it_reconnects_when_the_server_comes_back(served: Served, restartable: dict) -> None:
    url = f"http://127.0.0.1:{restartable['port']}"
    app = CcflareApp(ApiClient(url, served.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "live" in screen_text(app) and not app.problems, "connected")

        servers.stop(restartable["process"])
        await until(pilot, lambda: "reconnecting" in screen_text(app), "the drop shown")
        shot(app, "reconnecting")

        restartable["process"], _ = servers.start_proxy_server(
            env=restartable["env"],
            port=restartable["port"],
            output=subprocess.DEVNULL,  # type: ignore[arg-type]
        )
        await until(
            pilot,
            lambda: not app.problems and "live" in screen_text(app),
            "reconnected",
            patience=40,
        )
