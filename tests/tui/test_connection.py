"""Connection problems are shown in place, and the TUI reconnects by itself."""

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aiohttp import web
from asgiref.sync import sync_to_async

from tests import servers
from tests.conftest import FakeUpstream, ProxyServer
from tests.factories import make_request
from tests.proxy.test_proxy_e2e import MESSAGE
from tests.tui.conftest import Served, screen_text, serving, shot, until
from tui import app as app_module
from tui import client as client_module
from tui.app import CcflareApp
from tui.client import ApiClient
from tui.views.requests import RequestsView

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


def start_again(restartable: dict) -> None:
    """Start the restartable server again on its port; returns once it serves."""
    restartable["process"], _ = servers.start_proxy_server(
        env=restartable["env"],
        port=restartable["port"],
        output=subprocess.DEVNULL,  # type: ignore[arg-type]
    )


def connected(app: CcflareApp) -> bool:
    return "live" in screen_text(app) and not app.problems


async def test_it_reconnects_when_the_server_comes_back(served: Served, restartable: dict) -> None:
    url = f"http://127.0.0.1:{restartable['port']}"
    app = CcflareApp(ApiClient(url, served.token))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: connected(app), "connected")

        servers.stop(restartable["process"])
        await until(pilot, lambda: "reconnecting" in screen_text(app), "the drop shown")
        shot(app, "reconnecting")
        await pilot.press("r")  # the Overview reads its totals (the next range) meanwhile
        await until(pilot, lambda: "Cannot reach" in screen_text(app), "the totals' problem")

        start_again(restartable)
        await until(pilot, lambda: connected(app), "reconnected", patience=40)
        # The totals' message went too: it stayed until a request finished.
        await until(pilot, lambda: "Cannot reach" not in screen_text(app), "the totals read")


HELD = {"x-fake-scenario": "gated_stream;gate=tui-reconnect;events=2;hold_s=30"}


async def send_held(http: httpx.AsyncClient, url: str) -> None:
    """A streamed request that stops after its first event until the gate is released (or
    the server dies under it: the test's point, not a failure)."""
    with contextlib.suppress(httpx.HTTPError):
        await http.post(f"{url}/v1/messages", json={**MESSAGE, "stream": True}, headers=HELD)


def in_flight(app: CcflareApp) -> list[str]:
    return [key for key, i in app.query_one(RequestsView).items.items() if i.get("inFlight")]


async def test_a_killed_servers_running_request_leaves_no_row_in_flight(
    served: Served, restartable: dict
) -> None:
    url = f"http://127.0.0.1:{restartable['port']}"
    app = CcflareApp(ApiClient(url, served.token))
    async with app.run_test(size=(100, 30)) as pilot, httpx.AsyncClient(timeout=40) as http:
        await pilot.press("3")
        await until(pilot, lambda: connected(app), "connected")
        running = asyncio.create_task(send_held(http, url))
        await until(pilot, lambda: in_flight(app) and "…" in screen_text(app), "the row")

        restartable["process"].kill()  # as `kill -9`: the request dies unrecorded
        restartable["process"].wait()
        await until(pilot, running.done, "the request cut")
        await until(pilot, lambda: "reconnecting" in screen_text(app), "the drop shown")
        start_again(restartable)
        await until(
            pilot,
            lambda: connected(app) and not in_flight(app),
            "reconnected, the dead request's row gone",
            patience=40,
        )
        await pilot.pause(0.3)  # a redraw
        assert "…" not in screen_text(app)


class DropsAfterStart(ApiClient):
    """Ends the requests stream once, after its first `start` frame, when `drop` is set: a
    dropped connection to a server that lives on, the request it announced still running."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token)
        self.drop = asyncio.Event()

    async def stream(self, path: str) -> AsyncIterator[dict]:
        async with contextlib.aclosing(super().stream(path)) as frames:
            async for frame in frames:
                yield frame
                if frame.get("type") == "start" and not self.drop.is_set():
                    await self.drop.wait()
                    return


async def test_a_request_still_running_keeps_its_row_through_a_reconnect(
    served: Served, fake_upstream: FakeUpstream
) -> None:
    client = DropsAfterStart(served.proxy.url, served.token)
    app = CcflareApp(client)
    async with app.run_test(size=(100, 30)) as pilot, httpx.AsyncClient(timeout=40) as http:
        await pilot.press("3")
        await until(pilot, lambda: connected(app), "connected")
        running = asyncio.create_task(send_held(http, served.proxy.url))
        (held,) = await until(pilot, lambda: in_flight(app), "the in-flight row")
        # Recorded behind the TUI's back: once it shows, the list read after the
        # reconnect has been merged.
        missed = await sync_to_async(make_request)(path="/v1/messages/count_tokens")
        client.drop.set()
        view = app.query_one(RequestsView)
        await until(pilot, lambda: str(missed.pk) in view.items, "the list read again")

        assert in_flight(app) == [held]
        for _ in range(2):
            fake_upstream.release("tui-reconnect")
        await running
        await until(pilot, lambda: not in_flight(app), "the row finished")
        assert view.items[held]["statusCode"] == 200


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
