"""The TUI against a real daphne and the fake upstream, driven headless with Textual's pilot."""

import asyncio
from typing import Any

import httpx
import pytest
from rich.cells import cell_len
from textual.widgets import DataTable, RichLog
from textual.worker import Worker, WorkerState

from tests.conftest import FakeUpstream
from tests.proxy.test_proxy_e2e import MESSAGE
from tests.tui.conftest import Served, screen_text, shot, until
from tui.app import CcflareApp
from tui.client import ApiClient
from tui.views.accounts import AccountsView
from tui.views.analytics import AnalyticsView
from tui.views.logs import LogsView
from tui.views.overview import OverviewView
from tui.views.requests import COLUMNS, RequestsView, merged

pytestmark = pytest.mark.django_db(transaction=True)


def live(app: CcflareApp) -> bool:
    return not app.problems and "live" in screen_text(app)


async def test_the_overview_shows_totals_windows_and_the_session(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.post(f"{served.proxy.url}/v1/messages", json=MESSAGE)
    assert reply.status_code == 200
    app = served.app()
    async with app.run_test(size=(80, 24)) as pilot:
        text = await until(
            pilot,
            lambda: (
                "requests 1" in screen_text(app)
                and "holds it" in screen_text(app)
                and screen_text(app)
            ),
            "the totals and the session holder",
        )
        assert "alpha" in text and "beta" in text and "ok" in text
        # The fake upstream's rate-limit headers replaced the windows the fixture set.
        (alpha,) = [line for line in text.splitlines() if "alpha" in line]
        assert alpha.count("%") == 2 and alpha.count("↻") == 2
        shot(app, "overview")

        await pilot.resize_terminal(160, 40)
        await until(
            pilot, lambda: "█" * 9 in screen_text(app) or "░" * 9 in screen_text(app), "wide bars"
        )
        shot(app, "overview-wide")

        await pilot.press("r")
        await until(pilot, lambda: "[7d]" in screen_text(app), "the next range")


async def test_a_proxied_request_appears_on_the_requests_screen_by_itself(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: live(app), "the requests stream connected")
        view = app.query_one(RequestsView)

        async with httpx.AsyncClient(timeout=10) as http:
            reply = await http.post(f"{served.proxy.url}/v1/messages", json=MESSAGE)
        assert reply.status_code == 200

        # The row shows up in flight first (the upstream's answer started), then finished.
        text = await until(
            pilot,
            lambda: " 200 " in (t := screen_text(app)) and "sonnet-4-6" in t and t,
            "the finished row",
        )
        assert "alpha" in text
        assert [i["inFlight"] for i in view.items.values()] == [False]
        shot(app, "requests")


class HeldList(ApiClient):
    """Reads the requests list at once but answers it only when told: the slow list read
    a reconnect (or a loaded server) makes, racing the live stream."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token)
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, path: str, **params: Any) -> Any:
        answer = await super().get(path, **params)
        if path == "/api/requests":
            self.held.set()
            await self.release.wait()
        return answer


async def test_a_row_the_stream_brings_while_the_list_is_read_stays(served: Served) -> None:
    client = HeldList(served.proxy.url, served.token)
    app = CcflareApp(client)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: live(app) and client.held.is_set(), "the list read, held")
        async with httpx.AsyncClient(timeout=10) as http:
            reply = await http.post(f"{served.proxy.url}/v1/messages", json=MESSAGE)
        assert reply.status_code == 200
        await until(pilot, lambda: " 200 " in screen_text(app), "the row from the stream")

        # The list was read before the request was written; its answer must not drop the row.
        view = app.query_one(RequestsView)
        client.release.set()
        await until(pilot, lambda: view.arrived is None, "the list answered")
        await pilot.pause(0.3)  # a redraw
        assert " 200 " in screen_text(app) and "sonnet-4-6" in screen_text(app)


def test_merging_the_list_keeps_what_it_cannot_know_yet() -> None:
    listed = [{"id": "a", "inFlight": False, "statusCode": 200}]
    shown = {
        "a": {"id": "a", "inFlight": True, "startId": "s1"},  # finished meanwhile: the list wins
        "b": {"id": "b", "inFlight": True, "startId": "s1"},  # still running: kept
        "old": {"id": "old", "inFlight": False},  # finished before: the list decides
        # Announced by a server start before this one: it died with it, unrecorded.
        "dead": {"id": "dead", "inFlight": True, "startId": "s0"},
    }
    arrived = {
        "c": {"id": "c", "inFlight": False},  # written after the list's query ran
        "a": {"id": "a", "inFlight": True, "startId": "s1"},  # a late start never undoes a finish
    }
    items = merged(listed, shown, arrived, start_id="s1")
    assert set(items) == {"a", "b", "c"}
    assert items["a"] == listed[0]


async def test_the_detail_analytics_and_logs_of_a_request(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: live(app), "the requests stream connected")
        headers = {"x-api-key": "client-secret-never-shown", "anthropic-version": "2023-06-01"}
        async with httpx.AsyncClient(timeout=10) as http:
            reply = await http.post(
                f"{served.proxy.url}/v1/messages", json=MESSAGE, headers=headers
            )
        assert reply.status_code == 200
        await until(pilot, lambda: "sonnet-4-6" in screen_text(app), "the finished row")

        await pilot.press("enter")
        text = await until(
            pilot, lambda: "Conversation" in screen_text(app) and screen_text(app), "detail"
        )
        assert "alpha" in text and "claude-sonnet-4-6" in text and "hi" in text
        shot(app, "request-detail")
        await pilot.press("end")
        text = screen_text(app)
        assert "client-secret-never-shown" not in text and "sk-ant-api03-alpha" not in text
        await pilot.press("escape")

        await pilot.press("4")
        await until(pilot, lambda: "sonnet-4-6" in screen_text(app), "the model breakdown")
        assert "Requests 1 total" in screen_text(app)
        shot(app, "analytics")

        await pilot.press("5")
        logs = app.query_one(LogsView)
        await until(pilot, lambda: logs.query_one(RichLog).lines, "log lines")
        shot(app, "logs")
        await pilot.press("space")
        assert "PAUSED" in screen_text(app)
        await pilot.press("space")
        await pilot.press("l", "l")
        assert "ERROR+" in screen_text(app)
        await pilot.press("l", "l")  # DEBUG, then INFO again
        shown = len(logs.query_one(RichLog).lines)

        await pilot.press("slash")
        await pilot.press(*"no such words", "enter")

        assert "search 'no such words'" in screen_text(app)
        assert len(logs.query_one(RichLog).lines) < shown


async def test_a_running_request_is_marked_until_it_ends(
    served: Served, fake_upstream: FakeUpstream
) -> None:
    headers = {"x-fake-scenario": "gated_stream;gate=tui;events=2"}
    app = served.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: live(app), "the requests stream connected")
        async with httpx.AsyncClient(timeout=30) as http:
            running = asyncio.create_task(
                http.post(
                    f"{served.proxy.url}/v1/messages",
                    json={**MESSAGE, "stream": True},
                    headers=headers,
                )
            )
            await until(pilot, lambda: "…" in screen_text(app), "the in-flight row")
            assert " 200 " not in screen_text(app)

            for _ in range(2):
                await http.post(f"{fake_upstream.url}/_fake/gates/tui")
            assert (await running).status_code == 200

        await until(pilot, lambda: " 200 " in screen_text(app), "the row completed")
        assert "…" not in screen_text(app)


async def test_text_from_clients_is_shown_as_it_is_never_read_as_markup(served: Served) -> None:
    odd = "[/]odd[bold]-model"
    app = served.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: live(app), "the requests stream connected")
        async with httpx.AsyncClient(timeout=10) as http:
            await http.post(f"{served.proxy.url}/v1/messages", json={**MESSAGE, "model": odd})

        await until(pilot, lambda: odd in screen_text(app), "the model as sent")
        assert app.is_running and not app.problems


async def test_the_columns_are_as_wide_as_what_they_show_at_once(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(100, 30)):
        view = app.query_one(RequestsView)
        row = {"id": "r1", "timestamp": "2026-11-26T09:30:00+00:00", "statusCode": 200}
        view.on_frame({"type": "summary", "payload": {**row, "model": "claude-sonnet-4-6"}})
        view.render_rows()  # no idle moment after it: DataTable's own sizing has not run

        table = view.query_one(DataTable)
        shown = dict(zip(COLUMNS, table.ordered_columns, strict=True))
        assert shown["Model"].get_render_width(table) >= len("sonnet-4-6") + 2
        assert shown["Time"].get_render_width(table) >= len("09:30:00") + 2


async def test_every_table_is_as_wide_as_what_it_shows_at_once(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(160, 40)):
        name = "an-account-with-a-rather-long-name"
        health = {"state": "rate_limited", "reason": "five_hour until 11:00"}
        account = {"id": "a1", "name": name, "kind": "oauth", "tier": 20, "health": health}
        app.query_one(AccountsView).show_accounts([account])
        app.query_one(OverviewView).show_accounts([account])
        analytics = app.query_one(AnalyticsView)
        analytics.show_models({"modelPerformance": [{"model": "claude-some-long-model-name"}]})
        analytics.show_accounts([{"name": name, "requests": 12345678}])
        # No idle moment since: DataTable's own sizing of auto-width columns has not run.

        for table in app.query(DataTable):
            for index in range(table.row_count):
                for column, cell in zip(
                    table.ordered_columns, table.get_row_at(index), strict=True
                ):
                    shown = cell_len(cell) if isinstance(cell, str) else cell.cell_len
                    assert column.width >= shown, (table.id, str(column.label), str(cell))


async def test_a_task_failing_as_the_apps_widgets_go_away_is_not_an_error(
    served: Served,
) -> None:
    # Closing under load: a worker fails (its view is gone) after the top line went too.
    app = served.app()
    async with app.run_test(size=(100, 30)):
        await app.query_one("#connection").remove()
        app.report("internal", "Something went wrong: NoMatches(...)")
    assert app.return_code in (None, 0)


async def test_a_task_that_changes_state_while_the_app_closes_is_not_an_error(
    served: Served,
) -> None:
    # Workers still report (started, cancelled) while the app closes, when no screen is left.
    app = served.app()
    async with app.run_test(size=(100, 30)):
        worker = app.run_worker(asyncio.sleep(0), exit_on_error=False)
    for state in (WorkerState.RUNNING, WorkerState.CANCELLED, WorkerState.ERROR):
        app.on_worker_state_changed(Worker.StateChanged(worker, state))


LONG_MODEL = "claude-sonnet-4-5-" + "z" * 300


def finished(view: RequestsView) -> int:
    return sum(not item.get("inFlight") for item in view.items.values())


async def test_long_models_and_names_are_cut_and_every_column_stays_on_screen(
    alpha_long_named: Served,
) -> None:
    app = alpha_long_named.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await until(pilot, lambda: live(app), "the requests stream connected")
        view = app.query_one(RequestsView)
        async with httpx.AsyncClient(timeout=10) as http:
            for done, model in enumerate((LONG_MODEL, LONG_MODEL, "claude-newest"), 1):
                await http.post(
                    f"{alpha_long_named.proxy.url}/v1/messages", json={**MESSAGE, "model": model}
                )
                await until(pilot, lambda n=done: finished(view) == n, f"row {done} finished")
        await until(pilot, lambda: not view.dirty, "the rows shown")
        await pilot.pause(0.1)

        text = screen_text(app)
        shot(app, "requests-long-model")
        rows = [line for line in text.splitlines() if " 200 " in line]
        assert len(rows) == 3
        assert "newest" in rows[0]
        assert all("a-very-long" in row and "…" in row for row in rows)
        assert all("sonnet-4-5-zz" in row for row in rows[1:])
        assert all(row.rstrip().endswith(" ms") for row in rows)  # the last column, Took


async def test_new_rows_stay_in_view_as_the_list_outgrows_the_screen(served: Served) -> None:
    client = HeldList(served.proxy.url, served.token)
    client.release.set()
    app = CcflareApp(client)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        view = app.query_one(RequestsView)
        # The list read on connecting would drop the rows below (they are not in the database).
        await until(pilot, lambda: client.held.is_set() and view.arrived is None, "the list read")
        for minute in range(40):
            row = {"id": f"r{minute}", "timestamp": f"2026-11-26T09:{minute:02d}:00+00:00"}
            view.on_frame({"type": "summary", "payload": {**row, "statusCode": 200}})
            await until(pilot, lambda: not view.dirty, "the row shown")

        assert "09:39" in screen_text(app)
