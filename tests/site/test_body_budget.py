"""Large request bodies held at once are capped per process (MAX_BODIES_MB): a 503 past it.

A body counts by the bytes that arrived, not by the size its head declares: heads that
send no body hold nothing.
"""

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from analytics.models import Request
from tests import servers
from tests.conftest import ProxyServer, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024
BODY = 2 * MB  # over body_budget.SMALL, so counted
# What a message's JSON around its text takes, so that a body is BODY bytes in all.
ENVELOPE = b'{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"'
ENVELOPE_END = b'"}]}'


@pytest.fixture
def thrifty(proxy: ProxyServer) -> Iterator[int]:
    """A server that holds at most 3 MB of large bodies at once: one 2 MB body fits."""
    env = {**proxy.env, "MAX_BODY_MB": "2", "MAX_BODIES_MB": "3"}
    process, port = servers.start_proxy_server(env=env)
    yield port
    servers.stop(process)


def head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"anthropic-version: 2023-06-01\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


CHUNKED_HEAD = (
    b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"anthropic-version: 2023-06-01\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def message(size: int) -> bytes:
    """A /v1/messages body of exactly `size` bytes."""
    return ENVELOPE + b"a" * (size - len(ENVELOPE) - len(ENVELOPE_END)) + ENVELOPE_END


def post(port: int, body: bytes | Iterator[bytes]) -> httpx.Response:
    """A /v1/messages call, passed through to the fake upstream with the client's own key."""
    return httpx.post(
        f"http://127.0.0.1:{port}/v1/messages",
        content=body,
        headers={
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
            "x-api-key": "sk-ant-client",
        },
        timeout=10,
    )


def test_bytes_past_the_budget_get_a_503_as_they_arrive(thrifty: int) -> None:
    address = ("127.0.0.1", thrifty)
    with socket.create_connection(address) as holding:
        # All but the last byte of its body: the server holds almost 2 MB of the 3 MB.
        holding.sendall(head("/v1/messages", BODY) + message(BODY)[:-1])
        refused = wait_for(lambda: _status_when_sent_whole(thrifty) == 503)
        assert refused
        answer = post(thrifty, message(BODY))
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"]["type"] == "api_error"
        assert "MAX_BODIES_MB" in answer.json()["error"]["message"]
    # The held body's client left: its bytes are given back, and a large body fits again.
    assert wait_for(lambda: _status_when_sent_whole(thrifty) == 200)
    rejected = wait_for(lambda: list(Request.objects.filter(status_code=503)))
    assert rejected[0].terminal_state == Request.Terminal.REJECTED


def _status_when_sent_whole(port: int) -> int:
    return post(port, message(BODY)).status_code


def test_heads_that_send_no_body_hold_none_of_the_budget(thrifty: int) -> None:
    # Chunked heads counted as MAX_BODY_MB each, a declared one as its length, before a
    # byte came: three idle clients refused every other large body with a 503.
    address = ("127.0.0.1", thrifty)
    heads = [CHUNKED_HEAD, CHUNKED_HEAD, head("/v1/messages", BODY)]
    idle = [socket.create_connection(address) for _ in heads]
    for sock, raw in zip(idle, heads, strict=True):
        sock.sendall(raw)

    large = post(thrifty, message(BODY))
    chunked = post(thrifty, iter([message(100)]))  # an iterator: httpx sends it chunked

    assert (large.status_code, chunked.status_code) == (200, 200)
    assert [_answered(sock) for sock in idle] == [b"", b"", b""]  # still waiting for bodies
    for sock in idle:
        sock.close()


def _answered(sock: socket.socket) -> bytes:
    """What the server sent on `sock` so far (nothing while it waits for the body)."""
    sock.settimeout(0.2)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return b""


def test_a_body_declared_over_the_limit_still_gets_its_413_at_once(thrifty: int) -> None:
    with socket.create_connection(("127.0.0.1", thrifty), timeout=5) as sock:
        sock.sendall(head("/v1/messages", 16 * BODY))
        answer = sock.recv(65536)

    status = answer.split(b"\r\n", 1)[0]
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["type"] == "request_too_large"
