"""Fixtures for the TUI tests: a real daphne with accounts, a token, and the app driven headless."""

import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from rich.console import Console
from textual.pilot import Pilot

from access import credentials
from accounts.models import Account
from tests.conftest import ProxyServer
from tests.factories import make_account
from tui.app import CcflareApp
from tui.client import ApiClient

# Where the tests save the screens as SVG (gitignored; CI keeps test-artifacts/).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "tui"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A safety net for waits on the live server, never a measure of speed.
PATIENCE_SECONDS = 30.0


@dataclass
class Served:
    """The live server with two accounts and an API token the TUI can use."""

    proxy: ProxyServer
    token: str

    def app(self) -> CcflareApp:
        return CcflareApp(ApiClient(self.proxy.url, self.token))

    def accounts(self) -> dict[str, dict]:
        reply = httpx.get(
            f"{self.proxy.url}/api/accounts", headers={"Authorization": f"Bearer {self.token}"}
        )
        reply.raise_for_status()
        return {a["name"]: a for a in reply.json()}


@pytest.fixture
def served(proxy: ProxyServer, prices: None) -> Served:
    now = datetime.now(UTC)
    # Windows as a usage check leaves them, so the bars have something to show.
    make_account(
        name="alpha",
        api_key="sk-ant-api03-alpha-secret-key-0001",
        priority=0,
        five_hour_utilization=0.42,
        five_hour_reset=now + timedelta(hours=2, minutes=13),
        seven_day_utilization=0.78,
        seven_day_reset=now + timedelta(days=3, hours=4),
    )
    make_account(name="beta", api_key="sk-ant-api03-beta-secret-key-0002", priority=1, tier=5)
    return Served(proxy, credentials.create_api_token(name="tui-tests")[1])


LONG_NAME = "a-very-long-account-name-" * 4  # 100 characters, the most a name may have


@pytest.fixture
def alpha_long_named(served: Served) -> Served:
    """alpha with the longest name there may be; beta paused, so its health says so."""
    Account.objects.filter(name="alpha").update(name=LONG_NAME)
    Account.objects.filter(name="beta").update(paused=True)
    return served


async def until(
    pilot: Pilot, predicate: Callable[[], Any], what: str, *, patience: float = PATIENCE_SECONDS
) -> Any:
    """Let the app run until `predicate()` is truthy; fails naming `what` if it never is."""
    deadline = time.monotonic() + patience
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        await pilot.pause(0.05)
    return value


def screen_text(app: CcflareApp) -> str:
    """What the terminal shows now, as plain text (as export_screenshot renders it)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def shot(app: CcflareApp, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return Path(app.save_screenshot(filename=f"{name}.svg", path=str(SCREENSHOTS)))


@asynccontextmanager
async def serving(routes: dict[str, Handler]) -> AsyncIterator[str]:
    """A real HTTP server answering GET on each path with its handler; yields its URL.

    Handlers still running at the end (a server made to hang) are cut after a moment.
    """
    odd = web.Application()
    for path, handler in routes.items():
        odd.router.add_get(path, handler)
    runner = web.AppRunner(odd, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
