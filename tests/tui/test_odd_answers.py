"""Answers of shapes no ccflare version sends: each odd field reads as missing, never a crash."""

import asyncio
import base64
import json

from aiohttp import web
from rich.console import Console

from tests.tui.conftest import Handler, screen_text, serving, until
from tui import format
from tui.app import CcflareApp
from tui.client import ApiClient
from tui.detail import RequestDetail, render

# One account of each odd kind, among two the screens can show.
ODD_ACCOUNTS = [
    {"id": "a1", "name": "alpha", "health": "ok", "fiveHourUtilization": "0.5"},
    5,
    {"name": "no-id"},
    {"id": "b2", "name": "beta", "requestCount": "7", "sevenDayUtilization": [0.5]},
]


def answering(value: object) -> Handler:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(value)

    return handler


async def no_events(_: web.Request) -> web.Response:
    return web.Response(text=": heartbeat\n\n", content_type="text/event-stream")


def requests_tab(rows: list, stream: Handler) -> dict[str, Handler]:
    """The routes the requests tab reads: these rows, then this live stream."""
    return {
        "/api/accounts": answering([]),
        "/api/requests": answering(rows),
        "/api/requests/stream": stream,
        "/api/logs/stream": no_events,
    }


async def test_odd_fields_of_accounts_read_as_missing() -> None:
    routes = {"/api/accounts": answering(ODD_ACCOUNTS), "/api/analytics": answering({})}
    async with serving(routes) as url:
        app = CcflareApp(ApiClient(url, "cct_whatever"))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "beta" in screen_text(app), "the accounts shown")
            await pilot.resize_terminal(120, 30)  # the Overview draws its table again
            await pilot.press("2")
            await pilot.pause(0.3)

            text = screen_text(app)
            assert app.is_running and "alpha" in text and "beta" in text
            assert "no-id" not in text and "Something went wrong" not in text
            assert [a["name"] for a in app.accounts] == ["alpha", "beta"]
        assert app.return_code in (None, 0)


async def test_accounts_of_the_wrong_shape_are_said_on_the_top_line() -> None:
    async with serving({"/api/accounts": answering({"accounts": []})}) as url:
        app = CcflareApp(ApiClient(url, "cct_whatever"))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "not a list of accounts" in screen_text(app), "the problem")
            assert app.is_running


async def test_a_request_detail_that_is_not_an_object_is_said_in_place() -> None:
    routes = {
        "/api/accounts": answering([]),
        "/api/requests/r1": answering(["not", "a", "request"]),
        "/api/requests/r2": answering(
            {"payload": "x", "routingTrace": "y", "responseTimeMs": "12", "errorMessage": 5}
        ),
    }
    async with serving(routes) as url:
        app = CcflareApp(ApiClient(url, "cct_whatever"))
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(RequestDetail("r1"))
            await until(pilot, lambda: "not a request" in screen_text(app), "the problem")
            await pilot.press("escape")

            await app.push_screen(RequestDetail("r2"))
            await until(pilot, lambda: "Conversation" in screen_text(app), "the odd detail")
            assert app.is_running
        assert app.return_code in (None, 0)


async def test_a_frame_nested_too_deep_is_skipped_and_the_stream_goes_on() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    start = {"type": "start", "id": "r9", "timestamp": 0, "model": "claude-after-the-deep-one"}

    async def stream(request: web.Request) -> web.StreamResponse:
        reply = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await reply.prepare(request)
        await reply.write(f"data: {deep}\n\ndata: {json.dumps(start)}\n\n".encode())
        await asyncio.sleep(30)  # open, as a live stream is; cut when the test ends
        return reply

    async with serving(requests_tab([], stream)) as url:
        app = CcflareApp(ApiClient(url, "cct_whatever"))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("3")
            await until(pilot, lambda: "after-the-deep-one" in screen_text(app), "the next event")
            assert app.client.skipped_frames == 1
            assert "requests stream" not in app.problems
            assert "Something went wrong" not in screen_text(app)


async def connected(request: web.Request) -> web.StreamResponse:
    """A live stream that says it is connected (the list is read then) and stays open."""
    reply = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await reply.prepare(request)
    await reply.write(b"event: connected\ndata: ok\n\n")
    await asyncio.sleep(30)  # cut when the test ends
    return reply


async def test_control_characters_in_what_the_server_relays_never_reach_the_terminal() -> None:
    # A model name and an error message as a hostile client or upstream chose them.
    row = {
        "id": "r1",
        "timestamp": 0,
        "model": "claude-\x1b]0;pwned\x07x\x1b[31mred",
        "statusCode": 500,
        "accountUsed": "alpha\x9b2J",
    }
    async with serving(requests_tab([row], connected)) as url:
        app = CcflareApp(ApiClient(url, "cct_whatever"))
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("3")
            await until(pilot, lambda: "pwned" in screen_text(app), "the request row")
            text = screen_text(app)

    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    # Escaped, then cut to the column's 24 cells like any long model.
    assert r"\x1b]0;pwned\x07x\x1b[3…" in text and r"alpha\x9b2J" in text


def test_escape_sequences_in_captured_bodies_reach_the_screen_as_text() -> None:
    # Decoded from base64 by the screen itself, they went to the terminal raw: any client
    # of the proxy could retitle or clear the operator's terminal, or write to its clipboard.
    hostile = "hi \x1b]0;pwned\x07 \x1b[31mRED \x9b2J \u202eevil"
    sent = {"system": "x", "messages": [{"role": "user\x1b[2J", "content": hostile}]}
    detail = {
        "payload": {
            "request": {"body": base64.b64encode(json.dumps(sent).encode()).decode()},
            "response": {"body": base64.b64encode(f"raw {hostile}".encode()).decode()},
        }
    }
    console = Console(record=True, width=200, color_system=None)
    console.print(render(detail))
    shown = console.export_text()

    assert not {"\x1b", "\x07", "\x9b", "\u202e"} & set(shown)
    assert "\\x1b]0;pwned\\x07" in shown and "\\u202eevil" in shown


async def test_request_rows_of_odd_shapes_read_as_missing() -> None:
    # A model that is not text (or a row with no id) crashed the TUI from its redraw timer.
    rows = [
        {"id": "r1", "model": 5, "timestamp": "2026-01-01T00:00:00Z", "statusCode": 200},
        {"model": "claude-opus-4-1"},
        "not a row",
        {"id": "r2", "model": "claude-sonnet-4-5-20250929", "statusCode": 200},
    ]
    async with serving(requests_tab(rows, connected)) as url:
        app = CcflareApp(ApiClient(url, "cct_whatever"))
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("3")
            await until(pilot, lambda: "sonnet-4-5" in screen_text(app), "the good row")
            await pilot.pause(0.5)  # the redraw timer runs

            assert app.is_running and "Something went wrong" not in screen_text(app)


def test_a_cost_says_how_many_requests_it_leaves_out() -> None:
    two = {"totalCostUsd": 0.25, "unpricedRequests": 2}
    assert format.total_cost(two) == "$0.2500 + 2 unpriced"
    assert format.total_cost({"totalCostUsd": 0.25, "unpricedRequests": 0}) == "$0.2500"
    assert format.total_cost({"totalCostUsd": "x", "unpricedRequests": "y"}) == "—"


async def test_the_log_history_is_read_again_when_its_stream_connects() -> None:
    # Read once at start: a TUI started while the server was away showed no history for
    # good, nor what was logged while its stream was down.
    asked = []

    async def history(_: web.Request) -> web.Response:
        asked.append(1)
        if len(asked) == 1:
            return web.json_response({"error": "starting"}, status=503)
        return web.json_response([{"ts": 1, "level": "INFO", "msg": "from the history"}])

    async def log_stream(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.5)  # connects after the first read failed
        reply = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await reply.prepare(request)
        await reply.write(b'data: {"connected": true}\n\n')
        await asyncio.sleep(30)  # cut when the test ends
        return reply

    routes = {
        "/api/accounts": answering([]),
        "/api/logs/history": history,
        "/api/logs/stream": log_stream,
        "/api/requests/stream": no_events,
    }
    async with serving(routes) as url:
        app = CcflareApp(ApiClient(url, "cct_whatever"))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("5")
            await until(pilot, lambda: "from the history" in screen_text(app), "the history")
