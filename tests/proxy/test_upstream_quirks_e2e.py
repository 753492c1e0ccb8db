"""Answers the real API never sends, relayed and recorded for what they are: a stream that
lost its content type, a Messages success whose body is no readable message.

End to end through a real daphne and a raw-socket upstream (tests/lib/h1/scripted.py) run
on an event loop of its own thread, so each test writes exactly the bytes it needs.
"""

import asyncio
import gzip
import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import (
    QUIESCE_SECONDS,
    FakeUpstream,
    ProxyServer,
    proxy_env,
    serving_proxy,
    wait_for,
)
from tests.lib.h1.scripted import Request as UpstreamRequest
from tests.lib.h1.scripted import Respond, Server
from tests.proxy.test_proxy_e2e import MESSAGE, recorded

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "claude-sonnet-4-5-20250929"


class RawUpstream:
    """A scripted upstream on its own thread's loop; `answer` is what it writes next."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = Server(self._respond)
        self.answer: Respond | None = None
        thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        thread.start()
        listening = asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)
        self.listener: asyncio.Server = listening
        self.url = f"http://127.0.0.1:{self.server.port}"

    async def _listen(self) -> asyncio.Server:
        listener = await asyncio.start_server(self.server.handle, "127.0.0.1", 0)
        self.server.port = listener.sockets[0].getsockname()[1]
        return listener

    async def _respond(self, request: UpstreamRequest, writer: asyncio.StreamWriter) -> None:
        assert self.answer is not None, "the test set no answer"
        await self.answer(request, writer)
        # One answer a connection: no test depends on what the next one would read.
        writer.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.listener.close)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def raw_upstream() -> Iterator[RawUpstream]:
    upstream = RawUpstream()
    yield upstream
    upstream.close()


@pytest.fixture(scope="module")
def raw_proxy_server(
    django_db_setup: None, raw_upstream: RawUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyServer]:
    """A daphne whose upstream is the raw one (no account: the client's key passes)."""
    data_dir = tmp_path_factory.mktemp("quirks-proxy")
    with serving_proxy(
        proxy_env(data_dir=data_dir, upstream=FakeUpstream(raw_upstream.url))
    ) as server:
        yield server


@pytest.fixture
def raw_proxy(raw_proxy_server: ProxyServer, transactional_db: None) -> Iterator[ProxyServer]:
    yield raw_proxy_server
    time.sleep(QUIESCE_SECONDS)  # the server's last flush ends before the tables are emptied


def sse(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


STREAM = [
    sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "type": "message",
                "model": MODEL,
                "usage": {"input_tokens": 11, "output_tokens": 1},
            },
        },
    ),
    sse("content_block_start", {"type": "content_block_start", "index": 0}),
    sse(
        "content_block_delta",
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hello"}},
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    sse("message_delta", {"type": "message_delta", "usage": {"output_tokens": 7}}),
    sse("message_stop", {"type": "message_stop"}),
]
EVENT_GAP = 0.4  # seconds between the events: the whole stream takes 2 s


def paced_stream(content_type: bytes | None) -> Respond:
    """A chunked event stream, one event every EVENT_GAP, labelled `content_type`."""

    async def respond(request: UpstreamRequest, writer: asyncio.StreamWriter) -> None:
        label = b"content-type: " + content_type + b"\r\n" if content_type else b""
        writer.write(b"HTTP/1.1 200 OK\r\n" + label + b"transfer-encoding: chunked\r\n\r\n")
        for event in STREAM:
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            await asyncio.sleep(EVENT_GAP)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    return respond


@pytest.mark.parametrize("content_type", [None, b"application/octet-stream"])
def test_a_stream_that_lost_its_content_type_is_relayed_as_it_arrives_and_counted(
    raw_proxy: ProxyServer, raw_upstream: RawUpstream, content_type: bytes | None
) -> None:
    # Was read whole: the client saw the status line after the whole generation (7 s in
    # the probe), and the record said 0 tokens.
    raw_upstream.answer = paced_stream(content_type)
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{raw_proxy.url}/v1/messages",
        json={**MESSAGE, "stream": True},
        headers={"x-api-key": "client-own-key"},
        timeout=10,
    ) as response:
        chunks = response.iter_raw()
        first = next(chunks)
        first_after = time.monotonic() - started
        body = first + b"".join(chunks)
    whole_after = time.monotonic() - started

    assert response.status_code == 200
    assert body == b"".join(STREAM)
    assert first_after < EVENT_GAP  # the first event, long before the last
    assert whole_after > (len(STREAM) - 1) * EVENT_GAP
    (row,) = recorded(1)
    assert (row.terminal_state, row.success, row.is_stream) == ("complete", True, True)
    assert (row.model, row.input_tokens, row.output_tokens) == (MODEL, 11, 7)
    # Its first content block, the second event: one gap in, not at the end.
    assert row.time_to_first_token_ms < 2 * EVENT_GAP * 1000


def message(usage: object) -> bytes:
    reply = {"type": "message", "role": "assistant", "model": MODEL, "content": []}
    return json.dumps({**reply, "usage": usage}).encode()


GOOD = message({"input_tokens": 11, "output_tokens": 7})


def whole_reply(body: bytes, *, length: int | None = None, extra: bytes = b"") -> Respond:
    """A 200 labelled JSON with `body`, framed by `length` (its own by default)."""

    async def respond(request: UpstreamRequest, writer: asyncio.StreamWriter) -> None:
        framed = len(body) if length is None else length
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + extra
        writer.write(head + b"content-length: %d\r\n\r\n" % framed + body)
        await writer.drain()

    return respond


def post_raw(proxy: ProxyServer) -> tuple[int, bytes]:
    """Status and body bytes as they came (no content-encoding undone)."""
    url = f"{proxy.url}/v1/messages"
    with httpx.stream("POST", url, json=MESSAGE, headers={"x-api-key": "k"}, timeout=5) as sent:
        return sent.status_code, b"".join(sent.iter_raw())


def warnings_after(proxy: ProxyServer, offset: int) -> list[str]:
    lines = proxy.server_log()[offset:].splitlines()
    return [line for line in lines if "proxy.unreadable_reply" in line]


GZIPPED = gzip.compress(GOOD)
BROTLI = b"\x1b\x00\x00\x00garbagebrotli"
# body, its framed length, extra headers; what the client gets; why the record says so
UNREADABLE = {
    "html": (b"<html>Cloudflare says hi</html>", None, b"", "not JSON"),
    "gzip": (GZIPPED, None, b"content-encoding: gzip\r\n", "content-encoding gzip"),
    "br": (BROTLI, None, b"content-encoding: br\r\n", "content-encoding br"),
    "short": (GOOD, len(GOOD) - 10, b"", "not JSON"),
    "no-message": (b'{"type": "completion"}', None, b"", "not a message"),
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_a_messages_success_that_is_no_readable_message_is_relayed_and_recorded_as_failed(
    raw_proxy: ProxyServer, raw_upstream: RawUpstream, case: str
) -> None:
    # Was recorded as a complete success of 0 tokens, and nothing said it anywhere.
    body, length, extra, why = UNREADABLE[case]
    raw_upstream.answer = whole_reply(body, length=length, extra=extra)
    logged = len(raw_proxy.server_log())

    status, relayed = post_raw(raw_proxy)

    assert (status, relayed) == (200, body[:length])  # the bytes the upstream framed
    (row,) = recorded(1)
    assert (row.terminal_state, row.success, row.model) == ("complete", False, MESSAGE["model"])
    assert row.error_message == f"Reply was not a readable message ({why})"
    (warning,) = wait_for(lambda: warnings_after(raw_proxy, logged))
    assert "WARNING" in warning and why in warning


@pytest.mark.parametrize(
    "usage",
    [{"input_tokens": "11", "output_tokens": None}, [1, 2, 3], {"input_tokens": -11}, None],
    ids=["strings", "list", "negative", "missing"],
)
def test_a_message_whose_usage_cannot_be_read_is_a_success_that_says_so(
    raw_proxy: ProxyServer, raw_upstream: RawUpstream, usage: object
) -> None:
    # The client got its message: a success, but its tokens are unknown, not 0 spent.
    body = message(usage)
    raw_upstream.answer = whole_reply(body)
    logged = len(raw_proxy.server_log())

    assert post_raw(raw_proxy) == (200, body)
    (row,) = recorded(1)
    assert (row.terminal_state, row.success, row.model) == ("complete", True, MODEL)
    assert (row.total_tokens, row.error_message) == (0, "Reply's usage was not readable")
    (warning,) = wait_for(lambda: warnings_after(raw_proxy, logged))
    assert "WARNING" in warning


def test_a_message_with_its_usage_logs_no_warning(
    raw_proxy: ProxyServer, raw_upstream: RawUpstream
) -> None:
    raw_upstream.answer = whole_reply(GOOD)
    logged = len(raw_proxy.server_log())

    assert post_raw(raw_proxy) == (200, GOOD)
    (row,) = recorded(1)
    assert (row.success, row.error_message, row.total_tokens) == (True, None, 18)
    assert warnings_after(raw_proxy, logged) == []
