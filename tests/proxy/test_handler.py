"""The /v1/ handler called in-process: answers it gives itself, and what it records."""

import asyncio
import functools
import json
import types
from collections.abc import AsyncIterator

import daphne.server
import pytest

from access import clientkeys
from analytics.recording.write_behind import RequestRecord
from ccflare_site import web_request
from lib.asgi import ABORT
from lib.h1 import ReadTimeout, SlowFraming, UpstreamError
from lib.h1.head import parse_head
from proxy import background, handler
from proxy.failover import Outcome
from tests.site.test_web_request import daphne_channel


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

    async def send(message: dict) -> None:
        sent.append(message)

    await call_with(send, body, headers)
    return sent


async def call_with(send: handler.Send, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """One request to the handler, its answer to `send`; the client stays connected."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "POST", "path": "/v1/messages", "headers": list(headers)}
    await handler.application(scope, receive, send)


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


async def test_an_answer_whose_start_the_server_took_then_refused_is_cut_and_an_error(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    # daphne marks an answer started before Twisted writes its headers; a header Twisted
    # refused raised there, the 502 then tried was a second start and raised too, and the
    # client waited for ever on a connection nobody closed (recorded as `rejected`).
    # A real daphne request on a connection of its own (tests/site/test_web_request.py).
    channel = daphne_channel()
    channel.dataReceived(b"POST /v1/messages HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}")
    (request,) = channel.requests
    server = types.SimpleNamespace(
        connections={request: {}}, check_headers_type=daphne.server.Server.check_headers_type
    )
    answer = ScriptedAnswer([(b"content-type", b"application/json")], [JSON_REPLY])
    answer.raw_headers.append((b"bad name", b"x"))  # one lib.h1 leaves out now
    answering(monkeypatch, answer)

    await call_with(functools.partial(web_request._send_paced, server, request), b"{}", [])

    assert channel.transport.disconnecting  # closed: the client is not left waiting
    (record,) = records
    assert (record.terminal_state, record.success) == ("error", False)
    assert record.error_message == "Internal proxy error"


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


class ScriptedAnswer:
    """A 200 of the given headers (read by lib.h1's own head parser, as an upstream's are)
    and chunks; `cut` ends it with a lost connection (or the error given) instead of its
    framing's end."""

    def __init__(
        self,
        headers: list[tuple[bytes, bytes]],
        chunks: list[bytes],
        *,
        cut: bool | Exception = False,
    ) -> None:
        head = parse_head(b"\r\n".join([b"HTTP/1.1 200 OK", *(n + b": " + v for n, v in headers)]))
        self.status, self.raw_headers, self.length = head.status, head.raw_headers, head.length
        self.chunks, self.cut = chunks, cut

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if isinstance(self.cut, Exception):
            raise self.cut
        if self.cut:
            raise UpstreamError("connection lost")

    async def read_up_to(self, limit: int) -> tuple[bytes, bool]:
        """Whole, unless the first chunk alone is past `limit` (a download)."""
        if len(self.chunks[0]) > limit:
            first, self.chunks = self.chunks[0], self.chunks[1:]
            return first, False
        return b"".join(self.chunks), True

    def release(self) -> None:
        pass


def answering(monkeypatch: pytest.MonkeyPatch, answer: ScriptedAnswer) -> None:
    async def forward(*args: object, **kwargs: object) -> Outcome:
        return Outcome(response=answer, status=200)  # type: ignore[arg-type]

    monkeypatch.setattr(handler, "forward", forward)


STREAM_HEAD = [(b"content-type", b"text/event-stream")]
JSON_REPLY = b'{"type":"message","model":"m","usage":{"input_tokens":3,"output_tokens":4}}'
EVENTS = [
    b'event: message_start\ndata: {"type":"message_start","message":{"model":"m",'
    b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":4}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]


def header_values(message: dict, name: bytes) -> list[bytes]:
    return [value for key, value in message["headers"] if key == name]


async def test_a_whole_reply_states_its_own_length_whatever_the_upstream_said(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    # Content-Length beside a chunked body (illegal, yet sent): relayed, the client
    # waited for 5,000 bytes that never came.
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", b"5000"),
        (b"transfer-encoding", b"chunked"),
    ]
    answering(monkeypatch, ScriptedAnswer(head, [JSON_REPLY]))

    sent = await call(b'{"model": "m"}')

    assert header_values(sent[0], b"content-length") == [str(len(JSON_REPLY)).encode()]
    assert sent[1]["body"] == JSON_REPLY


async def test_a_stream_is_framed_by_the_server_not_by_the_upstreams_length(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    # The proxy may add an error event to a cut stream: a length stated up front
    # would then be wrong.
    head = [(b"content-type", b"text/event-stream"), (b"content-length", b"100")]
    answering(monkeypatch, ScriptedAnswer(head, EVENTS))

    sent = await call(b'{"model": "m", "stream": true}')

    assert header_values(sent[0], b"content-length") == []
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"".join(EVENTS)


async def test_a_stream_cut_after_message_stop_is_complete_without_an_error_event(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    answering(monkeypatch, ScriptedAnswer(STREAM_HEAD, EVENTS, cut=True))

    sent = await call(b'{"model": "m", "stream": true}')

    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"".join(EVENTS)
    assert ABORT not in sent[-1] and sent[-1].get("more_body") is not True
    (record,) = records
    assert (record.terminal_state, record.success) == ("complete", True)
    assert record.usage.output_tokens == 4


async def test_an_event_cut_midway_is_never_relayed_half_before_the_error_event(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    # Half an event, then the error: an SSE client reads them as one event of broken JSON
    # (the SDK raised a JSONDecodeError, never the API error).
    cut = [EVENTS[0] + b'event: message_delta\ndata: {"t']
    answering(monkeypatch, ScriptedAnswer(STREAM_HEAD, cut, cut=True))

    sent = await call(b'{"model": "m", "stream": true}')

    bodies = [m["body"] for m in sent[1:]]
    assert bodies[0] == EVENTS[0]
    assert bodies[-1].startswith(b"event: error\n") and len(bodies) == 2
    assert records[0].terminal_state == "error"


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ReadTimeout("no data for 600 s"), "sent nothing for too long"),
        # A trailer a byte at a time: never silent for long, yet never ending.
        (SlowFraming("trailer not complete in 30 s"), "dragged out its chunked framing"),
    ],
)
async def test_a_stream_whose_upstream_stalled_says_so_not_that_it_was_cut(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord], error: Exception, words: str
) -> None:
    answering(monkeypatch, ScriptedAnswer(STREAM_HEAD, EVENTS[:1], cut=error))

    sent = await call(b'{"model": "m", "stream": true}')

    assert f"Upstream {words} mid-stream".encode() in sent[-1]["body"]
    assert records[0].error_message == f"Upstream {words} ({type(error).__name__})"


async def test_a_content_type_in_capitals_is_still_a_stream(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    answering(monkeypatch, ScriptedAnswer([(b"content-type", b"Text/Event-Stream")], EVENTS))

    await call(b'{"model": "m", "stream": true}')

    (record,) = records
    assert record.is_stream and record.usage.output_tokens == 4


async def test_a_failed_stream_that_named_no_model_records_the_one_asked_for(
    monkeypatch: pytest.MonkeyPatch, records: list[RequestRecord]
) -> None:
    error = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n'
    answering(monkeypatch, ScriptedAnswer(STREAM_HEAD, [error]))

    await call(b'{"model": "claude-asked-for", "stream": true}')

    (record,) = records
    assert record.terminal_state == "error" and record.usage.model == "claude-asked-for"


@pytest.mark.parametrize(
    ("framing", "stated"),
    [
        ([(b"content-length", b"30")], [b"30"]),
        ([(b"content-length", b"30"), (b"transfer-encoding", b"chunked")], []),
        ([], []),
    ],
    ids=["by-length", "chunked-beside-a-length", "by-close"],
)
async def test_a_download_keeps_the_length_the_upstream_framed_it_by(
    monkeypatch: pytest.MonkeyPatch,
    records: list[RequestRecord],
    framing: list[tuple[bytes, bytes]],
    stated: list[bytes],
) -> None:
    # Relayed as it comes: cut short, an HTTP/1.0 client sees it short only by its length.
    monkeypatch.setattr(handler, "WHOLE_REPLY_BYTES", 10)
    head = [(b"content-type", b"application/octet-stream"), *framing]
    answering(monkeypatch, ScriptedAnswer(head, [b"x" * 20, b"y" * 10]))

    sent = await call(b'{"model": "m"}')

    assert header_values(sent[0], b"content-length") == stated
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"x" * 20 + b"y" * 10
