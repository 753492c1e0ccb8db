"""Large request bodies held at once are capped per process (MAX_BODIES_MB): a 503 past it."""

import json
import socket
from collections.abc import Iterator

import pytest

from analytics.models import Request
from tests import servers
from tests.conftest import ProxyServer, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024
BODY = 2 * MB  # over body_budget.SMALL, so counted


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


def test_a_large_body_past_the_budget_gets_a_503_before_it_is_read(thrifty: int) -> None:
    address = ("127.0.0.1", thrifty)
    with socket.create_connection(address) as holding:
        # Its body half sent: the first 2 MB of the budget are held while it arrives.
        holding.sendall(head("/v1/messages", BODY) + b"{" * MB)
        wait_for(lambda: _refused(address) is not None)  # the server has read the head
        refused = _refused(address)
        assert refused is not None
        status, headers, body = refused
        assert status == b"HTTP/1.1 503 Service Unavailable"
        assert b"Retry-After: 1" in headers
        assert json.loads(body)["error"]["type"] == "api_error"
        assert "MAX_BODIES_MB" in json.loads(body)["error"]["message"]
    # The held body's client left: its bytes are given back, and a large body fits again.
    assert wait_for(lambda: _refused(address) is None)
    rejected = wait_for(lambda: list(Request.objects.filter(status_code=503)))
    assert rejected[0].terminal_state == Request.Terminal.REJECTED


def _refused(address: tuple[str, int]) -> tuple[bytes, bytes, bytes] | None:
    """Send a 2 MB /v1/ head with no body yet: the 503 refusal it gets at once, or None
    when the server waits for the body instead (the body fits the budget)."""
    with socket.create_connection(address) as sock:
        sock.sendall(head("/v1/messages", BODY))
        sock.settimeout(1)
        try:
            received = sock.recv(65536)
        except TimeoutError:
            return None
    top, _, body = received.partition(b"\r\n\r\n")
    status, _, headers = top.partition(b"\r\n")
    return status, headers, body
