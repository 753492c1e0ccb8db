"""The TUI against a real daphne and the fake upstream, driven headless with Textual's pilot."""

import httpx
import pytest

from tests.proxy.test_proxy_e2e import MESSAGE
from tests.tui.conftest import Served, screen_text, shot, until
from tui.app import CcflareApp
from tui.views.requests import RequestsView

pytestmark = pytest.mark.django_db(transaction=True)


def live(app: CcflareApp) -> bool:
    return not app.problems and "live" in screen_text(app)


async def test_the_overview_names_each_account_with_its_health(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(80, 24)) as pilot:
        text = await until(
            pilot, lambda: "beta" in screen_text(app) and screen_text(app), "accounts"
        )
        assert "alpha" in text and "ok" in text
        shot(app, "overview")


async def test_a_proxied_request_appears_on_the_requests_screen_by_itself(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: live(app), "the requests stream connected")
        view = app.query_one(RequestsView)

        async with httpx.AsyncClient(timeout=10) as http:
            reply = await http.post(f"{served.proxy.url}/v1/messages", json=MESSAGE)
        assert reply.status_code == 200

        await until(pilot, lambda: any(not i["inFlight"] for i in view.items.values()), "the row")
        text = screen_text(app)
        assert "sonnet-4-6" in text and "200" in text and "alpha" in text
        shot(app, "requests")
