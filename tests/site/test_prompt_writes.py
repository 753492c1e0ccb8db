"""The transport of client connections (ccflare_site.prompt_writes.PromptServer), alone.

Its sending at the end of the loop's turn is tested through a real daphne in
test_server_hardening.py.
"""

import socket
import struct
from collections.abc import Iterator

import pytest
from twisted.internet import error
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


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A real loopback TCP connection: the server's end (non-blocking, as Twisted's) and
    the client's."""
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname()[:2]) as client:
        server_end, _ = listener.accept()
        with server_end:
            server_end.setblocking(False)
            yield server_end, client


def test_a_write_sends_at_most_the_send_limit_and_says_how_much_went(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server_end, client = pair
    transport = PromptServer(server_end, Protocol(), client.getsockname(), None, 1, MemoryReactor())

    assert transport.writeSomeData(b"hello") == 5
    assert client.recv(100) == b"hello"
    sent = transport.writeSomeData(memoryview(b"x" * (transport.SEND_LIMIT + 10)))
    assert 0 < sent <= transport.SEND_LIMIT


def test_a_full_socket_takes_nothing_and_a_closed_one_is_a_lost_connection(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server_end, client = pair
    transport = PromptServer(server_end, Protocol(), client.getsockname(), None, 1, MemoryReactor())
    # The client reads nothing: the socket's buffers fill, and a write then takes nothing.
    while transport.writeSomeData(b"x" * 65536):
        pass
    assert transport.writeSomeData(b"more") == 0

    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # a reset: the next send fails
    lost = None
    for _ in range(100):
        lost = transport.writeSomeData(b"more")
        if isinstance(lost, Exception):
            break
    assert isinstance(lost, error.ConnectionLost)
