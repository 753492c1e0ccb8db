"""The /v1/ handler called in-process: answers it gives itself, and what it records."""

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from access import clientkeys
from analytics.recording.write_behind import RequestRecord
from lib.asgi import ABORT
from proxy import background, handler
from proxy.failover import Outcome


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> list[RequestRecord]:
    captured: list[RequestRecord] = []
    monkeypatch.setattr(background, "ensure_started", lambda: None)
    monkeypatch.setattr(handler.recorder, "enqueue", captured.append)
    # No client keys. These tests have no database: the key check's own load would fail,
    # and keys never read let no request in (tests/access has the check's tests).
    monkeypatch.setattr(clientkeys.cache, "authorize", no_client_keys)
    return captured


async def no_client_keys(_headers: object) -> clientkeys.Grant:
    return clientkeys.OPEN


async def call(body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> list[dict]:  # type: ignore[assignment]
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/messages", "headers": list(headers)}
    await handler.application(scope, receive, send)
    return sent


def error_of(sent: list[dict]) -> tuple[int, dict]:
    # The proxy's own answers say what they are, as every Django page does.
    assert (b"x-content-type-options", b"nosniff") in sent[0]["headers"]
    return sent[0]["status"], json.loads(sent[1]["body"])


async def test_a_bug_in_forwarding_still_answers_in_api_shape_and_records(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(handler, "forward", broken)
    status, body = error_of(await call(b'{"model": "m"}'))
    assert status == 502
    assert body["error"] == {"type": "api_error", "message": "Internal proxy error"}
    (record,) = records
    assert (record.status_code, record.terminal_state) == (502, "error")


async def test_a_bug_after_the_answer_started_cuts_it_rather_than_end_it(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    # Ended normally, a cut answer looks complete (chunked) or leaves the client waiting
    # for its Content-Length: the server closes the connection instead (lib.asgi.ABORT).
    async def forwarded(*args: object, **kwargs: object) -> Outcome:
        return Outcome(response=None, status=502, error_type="api_error", message="x")

    async def half_relayed(self: handler.Exchange, outcome: Outcome, send: handler.Send) -> None:
        await self._start(send, 200, [(b"content-length", b"100")])
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise RuntimeError("boom")

    monkeypatch.setattr(handler, "forward", forwarded)
    monkeypatch.setattr(handler.Exchange, "relay", half_relayed)

    sent = await call(b'{"model": "m"}')

    assert sent[-1] == {"type": "http.response.body", "body": b"", ABORT: True}
    (record,) = records
    assert (record.terminal_state, record.error_message) == ("error", "Internal proxy error")


async def test_declared_oversized_body_is_refused_before_reading(
    records: list[RequestRecord],
) -> None:
    status, body = error_of(await call(b"", [(b"content-length", b"999999999999")]))
    assert status == 413
    assert body["error"]["type"] == "request_too_large"
    assert records[0].terminal_state == "rejected"


@pytest.mark.parametrize("payload", [b"", b"   ", b"[1, 2]", b"not json", b"\xff\xfe"])
async def test_bodies_that_cannot_be_an_object_get_400(
    payload: bytes, records: list[RequestRecord]
) -> None:
    status, body = error_of(await call(payload))
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert len(records) == 1


async def test_a_request_counts_as_in_flight_until_it_ends_however_it_ends(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    # The recorder builds its rows when no request is in flight: a count left up would
    # leave it waiting for gaps until its deadline on every flush.
    seen: list[int] = []
    hang, hanging = asyncio.Event(), asyncio.Event()

    async def forward(*args: object, **kwargs: object) -> None:
        seen.append(handler.recorder._in_flight)
        if hang.is_set():
            hanging.set()
            await asyncio.sleep(3600)  # an upstream that does not answer
        raise RuntimeError("boom")

    monkeypatch.setattr(handler, "forward", forward)
    before = handler.recorder._in_flight
    await call(b'{"model": "m"}')  # a bug while forwarding
    await call(b"[]")  # refused by the handler itself
    hang.set()
    cancelled = asyncio.ensure_future(call(b'{"model": "m"}'))
    await hanging.wait()
    cancelled.cancel()  # the client gone: daphne cancels the application
    with pytest.raises(asyncio.CancelledError):
        await cancelled

    assert seen == [before + 1, before + 1]
    assert handler.recorder._in_flight == before


class StreamingAnswer:
    """An upstream stream that sends its first event, then waits to be let go."""

    status = 200
    raw_headers = [(b"content-type", b"text/event-stream")]

    def __init__(self) -> None:
        self.relaying, self.end = asyncio.Event(), asyncio.Event()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield b'event: ping\ndata: {"type": "ping"}\n\n'
        self.relaying.set()
        await self.end.wait()

    def release(self) -> None:
        pass


async def test_a_stream_relaying_its_events_no_longer_counts_as_in_flight(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    # It may wait minutes for its events, each relayed in a moment: the recorder's work
    # would otherwise wait for its deadline on every flush while one is open.
    answer = StreamingAnswer()

    async def forward(*args: object, **kwargs: object) -> Outcome:
        seen.append(handler.recorder._in_flight)
        return Outcome(response=answer, status=200)  # type: ignore[arg-type]

    seen: list[int] = []
    monkeypatch.setattr(handler, "forward", forward)
    before = handler.recorder._in_flight
    streaming = asyncio.ensure_future(call(b'{"model": "m", "stream": true}'))
    await answer.relaying.wait()
    while_relaying = handler.recorder._in_flight
    answer.end.set()
    sent = await streaming

    assert seen == [before + 1] and while_relaying == before
    assert handler.recorder._in_flight == before
    assert sent[0]["status"] == 200 and records[0].is_stream
