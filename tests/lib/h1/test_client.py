"""lib.h1, the upstream client, against real local sockets: a scripted server answers
(tests/lib/h1/scripted.py; the `serve` fixture starts one)."""

import asyncio
import contextlib
import errno
import os
import resource
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from lib import h1
from lib.h1 import pool as pool_module
from lib.h1 import protocol
from tests import servers
from tests.conftest import until
from tests.lib.h1.scripted import Request, Respond


@pytest.fixture
async def pool() -> AsyncIterator[h1.Pool]:
    pool = h1.Pool(connect_timeout=2, read_timeout=2)
    yield pool
    pool.close()


def reply(body: bytes = b"hello", *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n".encode()
    return head + extra + b"\r\n" + body


async def answer(payload: bytes, writer: asyncio.StreamWriter) -> None:
    writer.write(payload)
    await writer.drain()


def fixed(payload: bytes) -> Respond:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        await answer(payload, writer)

    return respond


async def get(pool: h1.Pool, url: str, method: str = "GET", body: bytes = b"") -> bytes:
    response = await pool.request(method, url, [("x-test", "1")], body)
    try:
        return await response.read()
    finally:
        response.release()


# --- the request ---------------------------------------------------------------------------


async def test_the_request_goes_out_as_given_in_one_piece(serve, pool) -> None:
    server = await serve(fixed(reply()))
    path = "/v1/a/../b%2f%7E?q=%41&x=a/../b"
    headers = [("x-api-key", "sk-test"), ("anthropic-beta", "a,b"), ("x-latin", "caf\xe9")]

    response = await pool.request("POST", server.url(path), headers, b'{"a": 1}')
    await response.read()
    response.release()

    (request,) = server.requests
    assert request.line == f"POST {path} HTTP/1.1".encode()
    assert request.header_lines == [
        f"Host: 127.0.0.1:{server.port}".encode(),
        b"x-api-key: sk-test",
        b"anthropic-beta: a,b",
        b"x-latin: caf\xe9",
        b"Content-Length: 8",
    ]
    assert request.body == b'{"a": 1}'


async def test_a_large_body_goes_out_whole_after_its_head(serve, pool) -> None:
    server = await serve(fixed(reply()))
    body = bytes(range(256)) * 8192  # 2 MB, past the size sent joined to the head
    await get(pool, server.url(), "POST", body)
    (request,) = server.requests
    assert request.header_lines[-1] == f"Content-Length: {len(body)}".encode()
    assert request.body == body


async def test_a_post_without_body_says_length_zero_and_a_get_says_nothing(serve, pool) -> None:
    server = await serve(fixed(reply()))
    await get(pool, server.url(), "POST")
    await get(pool, server.url(), "GET")
    assert server.requests[0].header_lines[-1] == b"Content-Length: 0"
    assert not any(b"Content-Length" in line for line in server.requests[1].header_lines)


async def test_a_line_break_in_a_header_value_is_refused_before_sending(serve, pool) -> None:
    server = await serve(fixed(reply()))
    with pytest.raises(ValueError):
        await pool.request("GET", server.url(), [("x-api-key", "k\r\nx-evil: 1")])
    with pytest.raises(ValueError):
        await pool.request("GET", server.url(), [("x-api-key", "k\rx")])
    assert server.requests == []


# --- body framing --------------------------------------------------------------------------


async def test_a_content_length_body_is_read_whole_and_the_connection_reused(serve, pool) -> None:
    server = await serve(fixed(reply(b"x" * 100_000)))
    assert await get(pool, server.url()) == b"x" * 100_000
    assert await get(pool, server.url()) == b"x" * 100_000
    assert server.connections == 1


CHUNKED = b"5\r\nhello\r\n1;ext=1\r\n,\r\n10\r\n" + b"0123456789abcdef" + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize("piece", [1, 2, 3, 7])
async def test_a_chunked_body_split_at_every_boundary_is_decoded(serve, pool, piece) -> None:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        payload = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED
        for start in range(0, len(payload), piece):
            await answer(payload[start : start + piece], writer)
            await asyncio.sleep(0.001)  # each piece reaches the client on its own

    server = await serve(respond)
    response = await pool.request("GET", server.url(), [])
    received = [chunk async for chunk in response.iter_chunks()]
    response.release()

    assert b"".join(received) == b"hello,0123456789abcdef"
    assert await get(pool, server.url()) == b"hello,0123456789abcdef"
    assert server.connections == 1  # read to its last chunk: reused


async def test_a_chunked_trailer_is_skipped_and_the_connection_reused(serve, pool) -> None:
    body = b"3\r\nabc\r\n0\r\nx-checksum: 1\r\n\r\n"
    server = await serve(fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body))
    assert await get(pool, server.url()) == b"abc"
    assert await get(pool, server.url()) == b"abc"
    assert server.connections == 1


@pytest.mark.parametrize("size", [b"zz", b"0x3", b"-3", b"+3", b""])
async def test_a_bad_chunk_size_is_a_malformed_response(serve, pool, size) -> None:
    payload = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nabc\r\n"
    server = await serve(fixed(payload))
    response = await pool.request("GET", server.url(), [])
    with pytest.raises(h1.MalformedResponse):
        await response.read()
    response.release()


async def test_a_body_without_length_is_read_to_eof_and_not_reused(serve, pool) -> None:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        await answer(b"HTTP/1.1 200 OK\r\n\r\npart one, ", writer)
        await asyncio.sleep(0.01)
        await answer(b"part two", writer)
        writer.close()

    server = await serve(respond)
    assert await get(pool, server.url()) == b"part one, part two"
    assert await get(pool, server.url()) == b"part one, part two"
    assert server.connections == 2


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", "200 OK"), ("GET", "204 No Content"), ("GET", "304 Not Modified")],
)
async def test_answers_without_a_body_end_at_their_head(serve, pool, method, status) -> None:
    server = await serve(fixed(f"HTTP/1.1 {status}\r\nContent-Length: 42\r\n\r\n".encode()))
    assert await get(pool, server.url(), method) == b""
    assert await get(pool, server.url(), method) == b""
    assert server.connections == 1


async def test_an_interim_1xx_answer_is_skipped(serve, pool) -> None:
    server = await serve(fixed(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + reply(b"real")))
    response = await pool.request("GET", server.url(), [])
    assert (response.status, await response.read()) == (200, b"real")
    response.release()


async def test_interim_answers_without_end_are_an_error_not_a_recursion(serve, pool) -> None:
    # 5,000 in one packet overflowed the stack (a recursion per answer); sent for ever,
    # each restarted the read timeout.
    early = b"HTTP/1.1 103 Early Hints\r\n\r\n"
    server = await serve(fixed(early * (protocol.MAX_INTERIM + 1) + reply(b"real")))
    with pytest.raises(h1.MalformedResponse, match="interim"):
        await pool.request("GET", server.url(), [])
    ok = await serve(fixed(early * protocol.MAX_INTERIM + reply(b"real")))
    response = await pool.request("GET", ok.url(), [])
    assert (response.status, await response.read()) == (200, b"real")
    response.release()


@pytest.mark.parametrize(
    "payload",
    [
        reply(extra=b"Connection: close\r\n"),
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    ],
)
async def test_connection_close_or_http_1_0_is_not_reused(serve, pool, payload) -> None:
    server = await serve(fixed(payload))
    await get(pool, server.url())
    await get(pool, server.url())
    assert server.connections == 2


async def test_eof_in_the_middle_of_a_body_is_connection_lost(serve, pool) -> None:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        await answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", writer)
        writer.close()

    server = await serve(respond)
    response = await pool.request("GET", server.url(), [])
    with pytest.raises(h1.ConnectionLost):
        await response.read()
    response.release()
    response.release()  # twice, after an error: harmless


async def test_headers_are_case_insensitive_first_value_and_raw_as_received(serve, pool) -> None:
    extra = b"X-Thing: first\r\nx-thing: second\r\nContent-Type: text/event-stream\r\n"
    server = await serve(fixed(reply(extra=extra)))
    response = await pool.request("GET", server.url(), [])
    await response.read()
    response.release()

    assert response.headers.get("x-THING") == "first"
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers.get("missing", "") == ""
    assert set(response.headers) == {"content-length", "x-thing", "content-type"}
    # In order, values as sent, names lowered once for every reader.
    assert response.raw_headers[1:3] == [(b"x-thing", b"first"), (b"x-thing", b"second")]


@pytest.mark.parametrize(
    "payload",
    [
        b"SPDY/3 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    ],
)
async def test_a_malformed_head_is_refused(serve, pool, payload) -> None:
    server = await serve(fixed(payload))
    with pytest.raises(h1.MalformedResponse):
        await pool.request("GET", server.url(), [])


@pytest.mark.parametrize(
    "codings",
    [
        b"Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
        b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: identity\r\n",
        b"Transfer-Encoding: \r\n",
    ],
)
async def test_a_transfer_coding_other_than_one_chunked_is_refused(serve, pool, codings) -> None:
    # RFC 9112 §6.3: with Transfer-Encoding the length is ignored, and a coding the client
    # cannot undo leaves the body unreadable. Gzip was relayed as JSON, or cut at the
    # Content-Length as if complete.
    body = b"1f\r\n" + b"\x1f\x8b" + b"." * 29 + b"\r\n0\r\n\r\n"
    server = await serve(fixed(b"HTTP/1.1 200 OK\r\n" + codings + b"\r\n" + body))
    with pytest.raises(h1.MalformedResponse, match="Transfer-Encoding"):
        await pool.request("GET", server.url(), [])


async def test_chunked_in_any_case_is_chunked_and_overrides_a_length(serve, pool) -> None:
    extra = b"Transfer-Encoding: Chunked\r\nContent-Length: 2\r\n"
    server = await serve(fixed(b"HTTP/1.1 200 OK\r\n" + extra + b"\r\n" + CHUNKED))
    assert await get(pool, server.url()) == b"hello,0123456789abcdef"


LF_BODY = b'{"ok": true}'


@pytest.mark.parametrize(
    "payload",
    [
        b"HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 12\n\n" + LF_BODY,
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Odd: 1\n\r\n" + LF_BODY,
        # In one packet with a chunked body, whose last chunk ends in CRLF CRLF.
        b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\nc\r\n" + LF_BODY + b"\r\n0\r\n\r\n",
    ],
    ids=["lf", "mixed", "lf-then-chunked"],
)
async def test_a_head_whose_lines_end_in_a_bare_lf_is_read(serve, pool, payload) -> None:
    # RFC 9112 §2.2 lets a recipient take a bare LF as a line's end, as curl and browsers
    # do. It was never seen as ended: the request waited for the read timeout with the
    # connection open, or failed as ConnectionLost once the server closed it.
    server = await serve(fixed(payload))
    assert await get(pool, server.url()) == LF_BODY
    response = await pool.request("GET", server.url(), [])
    assert await response.read() == LF_BODY
    assert response.status == 200
    assert all(b"\n" not in name + value for name, value in response.raw_headers)
    response.release()
    assert server.connections == 1


async def test_a_header_block_past_the_cap_is_refused(serve, pool) -> None:
    huge = b"x-filler: " + b"a" * 70_000 + b"\r\n"
    server = await serve(fixed(reply(extra=huge)))
    with pytest.raises(h1.HeadersTooLarge):
        await pool.request("GET", server.url(), [])


# --- the pool ------------------------------------------------------------------------------


def numbered(request: Request) -> bytes:
    return reply(str(request.connection).encode())


async def by_connection(request: Request, writer: asyncio.StreamWriter) -> None:
    await answer(numbered(request), writer)


async def test_the_newest_idle_connection_is_reused_first(serve, pool) -> None:
    server = await serve(by_connection)
    first = await pool.request("GET", server.url(), [])
    second = await pool.request("GET", server.url(), [])  # the first is busy: a new one
    assert (await first.read(), await second.read()) == (b"0", b"1")
    first.release()
    second.release()

    assert await get(pool, server.url()) == b"1"
    assert await get(pool, server.url()) == b"1"
    assert server.connections == 2


async def test_release_before_the_body_is_read_closes_the_connection(serve, pool) -> None:
    server = await serve(by_connection)
    response = await pool.request("GET", server.url(), [])
    response.release()
    assert await get(pool, server.url()) == b"1"


async def test_a_request_cancelled_while_waiting_closes_its_connection(serve, pool) -> None:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        if len(server.requests) == 1:
            await asyncio.sleep(0.2)  # answers late, to a client that is gone
        await answer(numbered(request), writer)

    server = await serve(respond)
    waiting = asyncio.ensure_future(pool.request("GET", server.url(), []))
    await until(lambda: len(server.requests) == 1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # The late answer must never be read as the next request's.
    assert await get(pool, server.url()) == b"1"
    await until(lambda: server.ended == 1)


async def test_an_idle_connection_the_server_closed_is_not_reused(serve, pool) -> None:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        await answer(numbered(request), writer)
        writer.close()  # no Connection: close, as a server's idle timeout does it

    server = await serve(respond)
    assert await get(pool, server.url()) == b"0"
    await asyncio.sleep(0.05)  # the close reaches the client while the connection is idle
    assert await get(pool, server.url()) == b"1"
    assert len(server.requests) == 2  # nothing was sent on the closed one


async def test_an_idle_connection_past_the_keepalive_time_is_not_reused(
    serve, pool, monkeypatch
) -> None:
    monkeypatch.setattr(h1.pool, "KEEPALIVE_SECONDS", 0.05)
    server = await serve(by_connection)
    assert await get(pool, server.url()) == b"0"
    assert await get(pool, server.url()) == b"0"
    await asyncio.sleep(0.1)
    assert await get(pool, server.url()) == b"1"


async def test_the_keepalive_race_is_retried_once_on_a_fresh_connection(serve, pool) -> None:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.connection == 0 and len(server.requests) == 2:
            writer.close()  # closed its idle connection just as the request came
            return
        await answer(numbered(request), writer)

    server = await serve(respond)
    assert await get(pool, server.url()) == b"0"
    response = await pool.request("POST", server.url(), [], b"{}")
    assert (await response.read(), response.resent) == (b"1", True)
    response.release()
    assert [r.connection for r in server.requests] == [0, 0, 1]
    assert server.requests[2].body == b"{}"


async def test_a_reused_connection_lost_after_the_server_held_the_request_is_not_resent(
    serve, pool, monkeypatch
) -> None:
    # Not the keep-alive race: the server had the POST and died with it; sent again it
    # would be done (and paid for) twice.
    monkeypatch.setattr(pool_module, "RACE_SECONDS", 0.05)

    async def after_a_while(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.2)

    assert len(await lost_on_the_second_request(serve, pool, "POST", after_a_while)) == 2


async def lost_on_the_second_request(
    serve, pool, method: str, before_closing: Callable[[asyncio.StreamWriter], Awaitable[None]]
) -> list[Request]:
    """The requests a server saw that answers the first and closes on the second."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        if len(server.requests) == 2:
            await before_closing(writer)
            writer.close()
            return
        await answer(numbered(request), writer)

    server = await serve(respond)
    await get(pool, server.url())
    with pytest.raises(h1.ConnectionLost):
        await pool.request(method, server.url(), [], b"{}" if method == "POST" else b"")
    return server.requests


async def test_a_fresh_connection_closed_before_the_answer_is_not_retried(serve, pool) -> None:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await serve(respond)
    with pytest.raises(h1.ConnectionLost, match="before the response"):
        await pool.request("POST", server.url(), [], b"{}")
    assert len(server.requests) == 1


async def test_a_reused_connection_that_answered_in_part_is_not_retried(serve, pool) -> None:
    async def in_part(writer: asyncio.StreamWriter) -> None:
        await answer(b"HTTP/1.1 200", writer)

    assert len(await lost_on_the_second_request(serve, pool, "GET", in_part)) == 2


async def test_close_closes_idle_and_busy_connections(serve) -> None:
    server = await serve(by_connection)
    pool = h1.Pool(connect_timeout=2, read_timeout=2)
    await get(pool, server.url())
    busy = await pool.request("GET", server.url(), [])
    await get(pool, server.url())  # the first connection again: now both exist
    assert server.connections == 2

    pool.close()

    await until(lambda: server.ended == 2)
    assert busy._conn.closed
    busy.release()  # a no-op now: nowhere to go back to
    with pytest.raises(RuntimeError):
        await pool.request("GET", server.url(), [])


# --- resolving and connecting ---------------------------------------------------------------


@pytest.fixture
async def lookups(monkeypatch) -> list[str]:
    """Names the running loop resolves; ANSWERS (host -> addresses) stand in for DNS."""
    names: list[str] = []
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host, port, **kwargs):
        names.append(host)
        if host in ANSWERS:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ANSWERS[host]]
        return await real(host, port, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return names


# 127.0.0.2 is on the loopback too, but nothing listens there: a refusal, then the next.
ANSWERS = {"upstream.test": ["127.0.0.2", "127.0.0.1"]}


async def test_a_name_is_resolved_once_for_many_connections(serve, pool, lookups) -> None:
    server = await serve(by_connection)
    url = f"http://localhost:{server.port}/v1/messages"
    responses = [await pool.request("GET", url, []) for _ in range(3)]  # three connections
    for response in responses:
        await response.read()
        response.release()
    assert (server.connections, lookups) == (3, ["localhost"])


async def test_each_address_is_tried_in_turn_and_the_host_header_keeps_the_name(
    serve, pool, lookups
) -> None:
    server = await serve(by_connection)
    assert await get(pool, f"http://upstream.test:{server.port}/") == b"0"
    assert server.requests[0].header_lines[0] == f"Host: upstream.test:{server.port}".encode()


async def test_a_name_whose_addresses_all_fail_is_resolved_again(pool, lookups) -> None:
    url = f"http://localhost:{servers.free_port()}/"
    for _ in range(2):
        with pytest.raises(h1.ConnectionRefused):
            await pool.request("GET", url, [])
    assert lookups == ["localhost", "localhost"]


# --- failures and timeouts -----------------------------------------------------------------


async def test_a_refused_connection_is_connection_refused(pool) -> None:
    with pytest.raises(h1.ConnectionRefused) as caught:
        await pool.request("GET", f"http://127.0.0.1:{servers.free_port()}/v1/messages", [])
    assert isinstance(caught.value, h1.UpstreamError)


async def test_a_connect_that_hangs_is_a_connect_timeout() -> None:
    # A listener that never accepts, its accept queue filled: the kernel leaves further
    # SYNs unanswered, as a firewall that drops packets does.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    await asyncio.sleep(0.05)
    pool = h1.Pool(connect_timeout=0.2, read_timeout=2)
    try:
        with pytest.raises(h1.ConnectTimeout) as caught:
            await pool.request("GET", f"http://127.0.0.1:{port}/", [])
        assert isinstance(caught.value, TimeoutError)
    finally:
        pool.close()
        for sock in (*fillers, listener):
            sock.close()


async def test_silence_before_the_head_is_a_read_timeout(serve) -> None:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = await serve(respond)
    pool = h1.Pool(connect_timeout=2, read_timeout=0.1)
    try:
        with pytest.raises(h1.ReadTimeout) as caught:
            await pool.request("GET", server.url(), [])
        assert isinstance(caught.value, TimeoutError)
    finally:
        pool.close()


async def test_the_read_timeout_is_the_longest_silence_not_the_whole_body(serve) -> None:
    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        await answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", writer)
        for _ in range(6):
            await asyncio.sleep(0.06)
            await answer(b"1\r\n.\r\n", writer)
        if request.head.endswith(b"stall"):
            await asyncio.sleep(5)
        await answer(b"0\r\n\r\n", writer)

    server = await serve(respond)
    pool = h1.Pool(connect_timeout=2, read_timeout=0.2)
    try:
        response = await pool.request("GET", server.url(), [])
        assert await response.read() == b"......"  # 0.36 s in all, never 0.2 s silent
        response.release()
        response = await pool.request("GET", server.url(), [("x-then", "stall")])
        with pytest.raises(h1.ReadTimeout):
            await response.read()
        response.release()
    finally:
        pool.close()


async def test_a_head_trickled_a_byte_at_a_time_fails_once_it_outlasts_its_deadline(
    serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each byte restarted the read timeout: a head of 64 KB at a byte every two seconds
    # held the request for a day and a half.
    monkeypatch.setattr(protocol, "HEAD_SECONDS", 0.3)

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"." * 200 + b"\r\n"
        if request.head.endswith(b"quick"):
            await answer(head + b"Content-Length: 2\r\n\r\nok", writer)
            return
        for byte in head:
            await answer(bytes([byte]), writer)
            await asyncio.sleep(0.02)

    server = await serve(respond)
    pool = h1.Pool(connect_timeout=2, read_timeout=2)
    try:
        with pytest.raises(h1.SlowHead):
            await pool.request("GET", server.url(), [])
        # A head that arrives at once is never checked against the clock.
        response = await pool.request("GET", server.url(), [("x-pace", "quick")])
        assert await response.read() == b"ok"
        response.release()
    finally:
        pool.close()


@pytest.mark.parametrize("read_timeout", [5, None])
async def test_a_head_that_stops_midway_fails_at_its_deadline_without_more_bytes(
    serve, monkeypatch: pytest.MonkeyPatch, read_timeout: float | None
) -> None:
    # The deadline was checked only when a byte came: a head that stopped midway, its
    # connection open, waited for the read timeout (600 s), or for ever without one.
    monkeypatch.setattr(protocol, "HEAD_SECONDS", 0.3)

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        await answer(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n", writer)
        await asyncio.sleep(10)

    server = await serve(respond)
    pool = h1.Pool(connect_timeout=2, read_timeout=read_timeout)
    try:
        with pytest.raises(h1.SlowHead):
            await asyncio.wait_for(pool.request("GET", server.url(), []), 3)
    finally:
        pool.close()


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"


@pytest.mark.parametrize(
    ("begun", "trickle"),
    [(b"0\r\n", b"x"), (b"0\r\nX-Sum: 1", b""), (b"3;name=", b"v"), (b"", b"")],
    ids=["trailer-trickled", "trailer-stopped", "size-line-trickled", "between-chunks"],
)
async def test_chunked_framing_begun_must_be_whole_by_the_head_deadline(
    serve, monkeypatch: pytest.MonkeyPatch, begun: bytes, trickle: bytes
) -> None:
    # A byte of trailer every two seconds held the request until the 64 KB cap (a day
    # and a half): each byte restarted the read timeout. Silence between chunks is the
    # model's pace: only the read timeout ends it.
    monkeypatch.setattr(protocol, "HEAD_SECONDS", 0.3)

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        await answer(CHUNKED_HEAD + begun, writer)
        for _ in range(100):
            await asyncio.sleep(0.05)
            await answer(trickle, writer)

    server = await serve(respond)
    pool = h1.Pool(connect_timeout=2, read_timeout=1 if begun else 0.6)
    try:
        response = await pool.request("GET", server.url(), [])
        slow = h1.SlowFraming if begun else h1.ReadTimeout
        with pytest.raises(slow):
            await asyncio.wait_for(response.read(), 3)
        response.release()
    finally:
        pool.close()


async def test_a_framing_line_left_in_part_while_reading_is_paused_is_not_too_slow(
    serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client not reading for a while is no slowness of the upstream's: its rest of
    # the line waits in the kernel while reading is paused (flow control).
    monkeypatch.setattr(protocol, "HEAD_SECONDS", 0.3)
    data = b"d" * (protocol.HIGH_WATER + 2048)

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        await answer(head + b"%x\r\n" % len(data) + data[:-4096], writer)
        await asyncio.sleep(0.05)
        # The read that pauses reading ends in part of a size line.
        await answer(data[-4096:] + b"\r\n5", writer)
        await asyncio.sleep(0.05)
        await answer(b"\r\nhello\r\n0\r\n\r\n", writer)

    server = await serve(respond)
    pool = h1.Pool(connect_timeout=2, read_timeout=2)
    try:
        response = await pool.request("GET", server.url(), [])
        await until(lambda: response._conn._paused)
        await asyncio.sleep(0.6)  # past HEAD_SECONDS, reading nothing
        assert await response.read() == data + b"hello"
        response.release()
        assert await get(pool, server.url()) == data + b"hello"
        assert server.connections == 1  # not closed as too slow once its end had come
    finally:
        pool.close()


async def test_a_server_that_does_not_speak_tls_fails_the_connect(serve) -> None:
    server = await serve(by_connection)
    pool = h1.Pool(connect_timeout=2, read_timeout=2)
    try:
        with pytest.raises(h1.ConnectFailed):
            await pool.request("GET", f"https://127.0.0.1:{server.port}/", [])
    finally:
        pool.close()


# --- the proxy's own host out of resources -------------------------------------------------


@contextlib.contextmanager
def no_descriptor_left() -> Iterator[None]:
    """This process can open no further descriptor: its soft limit is the lowest free one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowest_free = os.dup(0)  # a new descriptor takes the lowest free number
    os.close(lowest_free)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_no_descriptor_left_is_out_of_resources_not_a_connect_failure(serve, pool) -> None:
    server = await serve(by_connection)

    with no_descriptor_left(), pytest.raises(h1.OutOfResources) as caught:
        await pool.request("GET", server.url(), [])

    assert str(caught.value) == "EMFILE: Too many open files"
    assert await get(pool, server.url()) == b"0"  # descriptors back: it connects again


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM])
async def test_a_socket_the_host_cannot_afford_tries_no_other_address_and_keeps_the_name(
    pool, lookups, monkeypatch, code
) -> None:
    tried: list[str] = []

    async def short_of_resources(protocol, host, port, **kwargs):
        tried.append(host)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", short_of_resources)
    for _ in range(2):
        with pytest.raises(h1.OutOfResources, match=errno.errorcode[code]):
            await pool.request("GET", "http://upstream.test:9/", [])

    # Each address would need a socket too; looking the name up again would need one.
    assert (tried, lookups) == (["127.0.0.2", "127.0.0.2"], ["upstream.test"])


# --- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key)]
        + ["-out", str(cert), "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_verifies_the_certificate_and_names_the_host(serve, certificate) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = await serve(by_connection, tls=server_tls)
    url = f"https://127.0.0.1:{server.port}/v1/messages"

    untrusting = h1.Pool(connect_timeout=2, read_timeout=2)  # the system's trust store
    trusted = ssl.create_default_context(cafile=cert)
    trusting = h1.Pool(connect_timeout=2, read_timeout=2, tls=trusted)
    try:
        with pytest.raises(h1.ConnectFailed, match="SSLCertVerificationError"):
            await untrusting.request("GET", url, [])
        assert await get(trusting, url) == b"0"
        assert await get(trusting, url) == b"0"  # reused over TLS too
    finally:
        untrusting.close()
        trusting.close()


# --- flow control --------------------------------------------------------------------------


async def test_reading_pauses_while_much_is_unread_and_resumes_as_it_drains(serve, pool) -> None:
    size = 16 * 1024 * 1024
    sent_all = asyncio.Event()

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        await answer(reply(b"z" * size), writer)
        sent_all.set()

    server = await serve(respond)
    response = await pool.request("GET", server.url(), [])
    conn = response._conn
    await until(lambda: conn._paused)
    await asyncio.sleep(0.1)  # were reading not paused, all 16 MB would be in by now

    assert conn.buffered < 2 * h1.protocol.HIGH_WATER
    assert not sent_all.is_set()  # the server is held back by the kernel's buffers
    received = 0
    async for chunk in response.iter_chunks():
        received += len(chunk)
        assert conn.buffered < 2 * h1.protocol.HIGH_WATER
    response.release()
    assert received == size
    assert sent_all.is_set()
