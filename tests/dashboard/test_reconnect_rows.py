"""The rows of running requests after the dashboard's socket reconnects, in a real Chromium.

A request the page saw start on a server that was then killed was never recorded: its row
must not stay "in progress" once the page hears the new server. A request still running on
the server the page reconnects to keeps its row until it ends.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User

from tests import servers
from tests.conftest import FakeUpstream, ProxyServer
from tests.dashboard.conftest import add_session, wait_live
from tests.dashboard.test_browser import MESSAGE, assert_not_reloaded, mark_page
from tests.factories import make_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

GATE = "reconnect"
PENDING_ROW = '[data-rows] tr[data-state="pending"]'
PENDING_ITEM = '[data-activity] li[data-state="pending"]'
# Slow machines: a restarted daphne takes seconds to serve, the page's backoff a few more.
PATIENCE_MS = 30_000


def send_held(base_url: str) -> threading.Thread:
    """A streamed request whose answer stops after its first event until GATE is released
    (or the server dies: the error is the test's point, not a failure)."""
    headers = {
        "anthropic-version": "2023-06-01",
        "x-api-key": "client-key",
        "x-fake-scenario": f"gated_stream;gate={GATE};events=2;hold_s=30",
    }

    def send() -> None:
        try:
            httpx.post(
                f"{base_url}/v1/messages",
                json={**MESSAGE, "stream": True},
                headers=headers,
                timeout=40,
            )
        except httpx.HTTPError:
            pass  # the server was killed under it

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def open_pages(context: object, base_url: str) -> tuple[object, object]:
    """The Requests page and the Overview, live and marked (a reload would drop the mark)."""
    pages = []
    for path in ("/dashboard/requests/", "/dashboard/"):
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error, page=page: page.errors.append(str(error)))
        page.goto(f"{base_url}{path}")
        wait_live(page)
        mark_page(page)
        pages.append(page)
    return pages[0], pages[1]


@pytest.fixture
def own_server(proxy: ProxyServer, tmp_path: Path) -> Iterator[dict]:
    """A daphne of this test's own on the test database, which it may kill and start again."""
    env = {**proxy.env, "DATA_DIR": str(tmp_path)}
    with (tmp_path / "first.log").open("wb") as log:
        process, port = servers.start_proxy_server(env=env, output=log)
    state = {"process": process, "port": port, "env": env, "logs": tmp_path}
    yield state
    servers.stop(state["process"])


def test_a_killed_servers_running_request_leaves_no_row_in_progress(
    context: object, own_server: dict, staff_user: User, fake_upstream: FakeUpstream
) -> None:
    base = f"http://127.0.0.1:{own_server['port']}"
    add_session(context, base, staff_user)
    requests_page, overview = open_pages(context, base)
    sending = send_held(base)
    requests_page.wait_for_selector(PENDING_ROW, timeout=PATIENCE_MS)
    overview.wait_for_selector(PENDING_ITEM, timeout=PATIENCE_MS)

    own_server["process"].kill()  # as `kill -9`: the request dies unrecorded
    own_server["process"].wait()
    sending.join()
    requests_page.wait_for_selector('[data-live-status="reconnecting"]', timeout=PATIENCE_MS)
    with (own_server["logs"] / "second.log").open("wb") as log:
        own_server["process"], _ = servers.start_proxy_server(
            env=own_server["env"], port=own_server["port"], output=log
        )

    for page, pending in ((requests_page, PENDING_ROW), (overview, PENDING_ITEM)):
        page.wait_for_selector('[data-live-status="live"]', timeout=PATIENCE_MS)
        page.wait_for_selector(pending, state="detached", timeout=PATIENCE_MS)
        assert_not_reloaded(page)
        assert page.errors == []
    assert "in progress" not in requests_page.inner_text("[data-count]")


def test_a_request_still_running_keeps_its_row_through_a_reconnect(
    context: object, proxy: ProxyServer, staff_user: User, fake_upstream: FakeUpstream
) -> None:
    add_session(context, proxy.url, staff_user)
    requests_page, overview = open_pages(context, proxy.url)
    sending = send_held(proxy.url)
    requests_page.wait_for_selector(PENDING_ROW, timeout=PATIENCE_MS)
    overview.wait_for_selector(PENDING_ITEM, timeout=PATIENCE_MS)
    # Recorded behind the pages' backs: once they show it, their re-read after the
    # reconnect has been rendered.
    missed = make_request(path="/v1/messages/count_tokens")

    for page in (requests_page, overview):
        page.evaluate("window.ccflare.live.socket.close()")  # as a dropped connection
    requests_page.wait_for_selector(f'[data-rows] tr[data-id="{missed.pk}"]', timeout=PATIENCE_MS)
    overview.wait_for_selector(f'[data-activity] li[data-id="{missed.pk}"]', timeout=PATIENCE_MS)

    assert requests_page.locator(PENDING_ROW).count() == 1
    assert overview.locator(PENDING_ITEM).count() == 1
    for _ in range(2):
        fake_upstream.release(GATE)
    sending.join()
    requests_page.wait_for_selector(PENDING_ROW, state="detached", timeout=PATIENCE_MS)
    overview.wait_for_selector(PENDING_ITEM, state="detached", timeout=PATIENCE_MS)
    for page in (requests_page, overview):
        assert_not_reloaded(page)
        assert page.errors == []
