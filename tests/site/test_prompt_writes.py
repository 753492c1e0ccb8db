"""The transport of client connections (ccflare_site.prompt_writes.PromptServer), alone.

Its sending at the end of the loop's turn is tested through a real daphne in
test_server_hardening.py.
"""

import socket
from collections.abc import Iterator

import pytest
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactor

from ccflare_site.prompt_writes import PromptServer


@pytest.fixture
def accepted() -> Iterator[socket.socket]:
    """The server's end of a real loopback TCP connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname()[:2]):
        server_end, _ = listener.accept()
        with server_end:
            yield server_end


def test_a_client_connection_sends_each_write_without_waiting_for_an_acknowledgement(
    accepted: socket.socket,
) -> None:
    # A stream's events are one send each: with Nagle's algorithm on (Twisted's default)
    # an event could wait for the client's delayed acknowledgement of the one before.
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0

    PromptServer(accepted, Protocol(), accepted.getpeername(), None, 1, MemoryReactor())

    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
