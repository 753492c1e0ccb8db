"""lib.h1.fetch: one request on a connection of its own, read whole, within a time limit."""

import asyncio
import json

import pytest

from lib import h1
from lib.h1 import oneshot
from tests.lib.h1.scripted import Request


async def answer_json(request: Request, writer: asyncio.StreamWriter) -> None:
    body = json.dumps({"seen": request.body.decode(), "line": request.line.decode()}).encode()
    writer.write(
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


async def test_a_json_post_is_sent_and_its_answer_read_whole(serve) -> None:
    server = await serve(answer_json)
    content_type, body = h1.json_body({"grant_type": "refresh_token"})

    reply = await h1.fetch(
        "POST", server.url("/token"), headers=[content_type], body=body, within=5
    )

    assert (reply.status, reply.reason) == (201, "Created")
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {
        "seen": '{"grant_type": "refresh_token"}',
        "line": "POST /token HTTP/1.1",
    }
    assert b"Content-Type: application/json" in server.requests[0].header_lines


async def test_the_connection_is_closed_with_the_answer(serve) -> None:
    server = await serve(answer_json)

    await h1.fetch("GET", server.url("/a"), within=5)
    await h1.fetch("GET", server.url("/b"), within=5)
    await asyncio.sleep(0.05)

    assert (server.connections, server.ended) == (2, 2)


async def test_an_answer_slower_than_the_limit_is_a_timeout(serve) -> None:
    async def never(request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    server = await serve(never)

    with pytest.raises(TimeoutError):
        await h1.fetch("GET", server.url(), within=0.2)


async def test_an_unknown_status_has_no_reason_phrase(serve) -> None:
    async def odd(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 599 Whatever\r\nContent-Length: 0\r\n\r\n")

    server = await serve(odd)

    reply = await h1.fetch("GET", server.url(), within=5)

    assert (reply.status, reply.reason, reply.body) == (599, "", b"")


async def test_credentials_in_the_url_go_out_as_basic_authorization(serve) -> None:
    server = await serve(answer_json)
    url = server.url("/hook").replace("http://", "http://us%40er:p%3Ass@")

    await h1.fetch("POST", url, body=b"{}", within=5)

    (request,) = server.requests
    assert b"Authorization: Basic dXNAZXI6cDpzcw==" in request.header_lines  # us@er:p:ss
    assert request.line == b"POST /hook HTTP/1.1"
    assert b"Host: 127.0.0.1:%d" % server.port in request.header_lines


async def test_an_answer_over_the_limit_is_refused_not_held_whole(serve) -> None:
    size = oneshot.MAX_REPLY_BYTES + 1

    async def huge(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size)

    server = await serve(huge)

    # A 200 MB usage reply took 600 MB and held the event loop.
    with pytest.raises(h1.MalformedResponse, match="answer over"):
        await h1.fetch("GET", server.url(), within=5)
