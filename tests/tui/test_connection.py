"""Connection problems are shown in place, and the TUI reconnects by itself."""

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aiohttp import web

from tests import servers
from tests.conftest import FakeUpstream, ProxyServer
from tests.tui.conftest import Served, screen_text, serving, shot, until
from tui import app as app_module
from tui import client as client_module
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
        await pilot.press("r")  # the Overview reads its totals (the next range) meanwhile
        await until(pilot, lambda: "Cannot reach" in screen_text(app), "the totals' problem")

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
        # The totals' message went too: it stayed until a request finished.
        await until(pilot, lambda: "Cannot reach" not in screen_text(app), "the totals read")


async def test_a_server_that_is_not_ccflare_is_said_in_place(fake_upstream: FakeUpstream) -> None:
    """The fake Anthropic upstream answers no /api/ route: each screen says so, none crashes."""
    app = CcflareApp(ApiClient(fake_upstream.url, "cct_whatever"))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "HTTP 404" in screen_text(app), "the problem")
        for tab in "2345":
            await pilot.press(tab)
        await pilot.pause(0.5)
        assert app.is_running and "Traceback" not in screen_text(app)


@pytest.fixture
async def odd_server() -> AsyncIterator[str]:
    """A real HTTP server whose /api/ answers are JSON of shapes no ccflare version sends."""

    async def accounts(_: web.Request) -> web.Response:
        return web.json_response({"not": "a list"})

    async def requests(_: web.Request) -> web.Response:
        return web.json_response({"not": "a list"})

    async def stream(_: web.Request) -> web.Response:
        # `connected` makes the Requests screen read the list.
        return web.Response(text="event: connected\ndata: ok\n\n", content_type="text/event-stream")

    odd = web.Application()
    odd.router.add_get("/api/accounts", accounts)
    odd.router.add_get("/api/requests", requests)
    odd.router.add_get("/api/requests/stream", stream)
    runner = web.AppRunner(odd)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_an_answer_it_cannot_read_is_said_in_place(odd_server: str) -> None:
    app = CcflareApp(ApiClient(odd_server, "cct_whatever"))
    async with app.run_test(size=(80, 24)) as pilot:
        said = "/api/requests answered something not a list"
        await until(pilot, lambda: said in screen_text(app), "the problem")
        assert app.is_running


@pytest.fixture
def quick_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The accounts read every second and a call slow after one: the 5 s and 3 s, scaled."""
    monkeypatch.setattr(app_module, "ACCOUNTS_REFRESH_SECONDS", 1.0)
    monkeypatch.setattr(app_module, "SLOW_AFTER_SECONDS", 1.0)


async def test_a_server_slower_than_the_refresh_is_waited_for_and_said(quick_ticks: None) -> None:
    async def accounts(_: web.Request) -> web.Response:
        await asyncio.sleep(2.5)  # longer than a tick, shorter than the client's timeout
        return web.json_response([{"id": "a1", "name": "alpha"}])

    async with serving({"/api/accounts": accounts}) as url:
        app = CcflareApp(ApiClient(url, "cct_whatever"))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(
                pilot, lambda: "slow: waiting for the server" in screen_text(app), "the wait"
            )
            await until(pilot, lambda: "alpha" in screen_text(app), "the slow answer shown")


async def test_a_server_that_never_answers_is_said_and_tried_again(
    quick_ticks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "CALL_TIMEOUT", httpx.Timeout(2.0))
    asked = 0

    async def accounts(_: web.Request) -> web.Response:
        nonlocal asked
        asked += 1
        await asyncio.sleep(30)  # cut when the test ends
        return web.json_response([])

    async with serving({"/api/accounts": accounts}) as url:
        app = CcflareApp(ApiClient(url, "cct_whatever"))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "slow: waiting" in screen_text(app), "the wait")
            await until(pilot, lambda: "did not answer in time" in screen_text(app), "timeout")
            assert "reconnecting" in screen_text(app)
            await until(pilot, lambda: asked >= 2, "the accounts read again")
            assert "● live" not in screen_text(app)
