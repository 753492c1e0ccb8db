"""tui.client: SSE frames as the server writes them, and failures as sentences."""

from collections.abc import AsyncIterator

import httpx

from tui import client
from tui.views.requests import matches, parse_filters, short_model


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def frames(*items: str) -> list[dict]:
    return [frame async for frame in client.sse_frames(lines(*items))]


async def test_frames_named_unnamed_heartbeats_and_garbage() -> None:
    got = await frames(
        "event: connected", "data: ok", "id: 5eed", "",
        ": heartbeat", "",
        'data: {"type": "start",', 'data: "id": "r1"}', "",
        "data: not json", "",
        'data: {"msg": "x"}', "",
    )  # fmt: skip

    assert got == [
        {"event": "connected", "data": "ok", "id": "5eed"},
        {"type": "start", "id": "r1"},
        {"msg": "x"},
    ]


def test_refusals_read_as_sentences() -> None:
    unauthorized = httpx.Response(401, json={"error": "Unauthorized"})
    bad = httpx.Response(400, json={"error": "Invalid tier"})

    assert "refused the API token" in client.refusal(unauthorized)
    assert client.refusal(bad) == "Invalid tier (HTTP 400)"
    down = client.unreachable("http://h:1", httpx.ConnectError("refused"))
    assert down == "Cannot reach the server at http://h:1: is it running?"


async def test_control_characters_in_frames_and_refusals_read_as_escapes() -> None:
    got = await frames(
        'data: {"msg": "a\\r\\nb\\u001b[2J\\t\\u009b", "k\\u0007": [["\\u007f"]]}', "",
        "event: x\x1b[31m", "data: \x1b]0;title\x07", "",
    )  # fmt: skip
    refused = httpx.Response(400, json={"error": "bad \x1b]52;c;cGF5bG9hZA==\x07"})

    assert got == [
        {"msg": "a\\r\nb\\x1b[2J\t\\x9b", "k\\x07": [["\\x7f"]]},
        {"event": "x\\x1b[31m", "data": "\\x1b]0;title\\x07"},
    ]
    assert client.refusal(refused) == "bad \\x1b]52;c;cGF5bG9hZA==\\x07 (HTTP 400)"


def test_request_filters() -> None:
    filters = parse_filters("account:alpha model:opus status:error bogus:1 plain")
    assert filters == {"account": "alpha", "model": "opus", "status": "error"}
    failed = {"accountUsed": "Alpha", "model": "claude-opus-4-1", "success": False}
    assert matches(failed, filters)
    assert not matches({**failed, "success": True}, filters)
    assert matches({**failed, "success": None, "inFlight": True}, filters)
    assert short_model("claude-sonnet-4-5-20250929") == "sonnet-4-5"


async def test_a_frame_nested_too_deep_is_skipped_and_counted() -> None:
    skipped = []
    deep = "data: " + "[" * 100_000 + "]" * 100_000
    lines_in = lines(deep, "", "data: not json", "", 'data: {"msg": "after"}', "")

    got = [f async for f in client.sse_frames(lines_in, on_skip=lambda: skipped.append(1))]

    assert got == [{"msg": "after"}]
    assert len(skipped) == 2
