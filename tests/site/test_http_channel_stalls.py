"""A client that stalls mid-request, against a real daphne whose idle timeout comes first.

Twisted closes a connection idle for 60 s, and the body deadline is 120 s: a body that
stalled was cut silently at 60 s, with no 408 and no record. Here the idle timeout is
IDLE_SECONDS (sitecustomize below, in the server only), shorter than the body deadline,
so the same order of events takes seconds.
"""

import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from analytics.models import Request
from tests import servers
from tests.conftest import ProxyServer, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

IDLE_SECONDS = 1.0
BODY_TIMEOUT_SECONDS = 3.0
# How late a deadline may fire on a busy 2-core machine and still pass.
SLACK_SECONDS = 2.5

# Imported by the server's interpreter at start (PYTHONPATH): every HTTPFactory daphne
# makes gets IDLE_SECONDS as Twisted's idle timeout instead of 60 s.
SHORT_IDLE = f"""
from twisted.web import http

_init = http.HTTPFactory.__init__


def _short_idle(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.timeOut = {IDLE_SECONDS}


http.HTTPFactory.__init__ = _short_idle
"""


@pytest.fixture
def impatient(proxy: ProxyServer, tmp_path: Path) -> Iterator[int]:
    """A server on the test database whose idle timeout passes before its body deadline."""
    (tmp_path / "sitecustomize.py").write_text(SHORT_IDLE)
    env = {
        **proxy.env,
        "PYTHONPATH": str(tmp_path),
        "HEADER_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
        "BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
    }
    process, port = servers.start_proxy_server(env=env)
    yield port
    servers.stop(process)


def read_until_closed(sock: socket.socket, *, timeout: float) -> bytes:
    """Everything the server sends until it closes (or `timeout` s pass)."""
    received = b""
    sock.settimeout(timeout)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return received


HEAD = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


# A head and the start of its body, the rest never sent.
UNFINISHED = [
    pytest.param(HEAD + b'Content-Length: 1000\r\n\r\n{"model":"x"', id="content-length"),
    pytest.param(HEAD + b'Transfer-Encoding: chunked\r\n\r\nc\r\n{"model":"x"\r\n', id="chunked"),
]


@pytest.mark.parametrize("stalled", UNFINISHED)
def test_a_body_that_stalls_gets_its_408_at_the_body_deadline_and_is_recorded(
    impatient: int, stalled: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", impatient)) as sock:
        started = time.monotonic()
        sock.sendall(stalled)
        response = read_until_closed(sock, timeout=BODY_TIMEOUT_SECONDS + SLACK_SECONDS)
        took = time.monotonic() - started

    assert response.split(b"\r\n", 1)[0] == b"HTTP/1.1 408 Request Timeout"
    assert BODY_TIMEOUT_SECONDS - 0.2 < took < BODY_TIMEOUT_SECONDS + SLACK_SECONDS
    rejected = wait_for(lambda: list(Request.objects.filter(status_code=408)))
    assert [(row.path, row.terminal_state) for row in rejected] == [
        ("/v1/messages", Request.Terminal.REJECTED)
    ]


def test_an_idle_kept_alive_connection_is_still_closed_silently(impatient: int) -> None:
    with socket.create_connection(("127.0.0.1", impatient)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = sock.recv(65536)
        started = time.monotonic()
        after_the_answer = read_until_closed(sock, timeout=BODY_TIMEOUT_SECONDS + SLACK_SECONDS)
        took = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert after_the_answer == b""  # no 408 the client could take for its next answer
    assert took < IDLE_SECONDS + SLACK_SECONDS


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
@pytest.mark.parametrize("cut", UNFINISHED)
def test_a_client_that_leaves_mid_body_is_recorded_once(
    proxy: ProxyServer, cut: bytes, reset: bool
) -> None:
    # daphne hands a request over only once its body is whole: this one never reached
    # the proxy, and was never recorded.
    url = httpx.URL(proxy.url)
    with socket.create_connection((url.host, url.port)) as sock:
        sock.sendall(cut)
        time.sleep(0.2)  # the head is read, the body is arriving
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    (row,) = wait_for(lambda: list(Request.objects.all()))
    assert (row.method, row.path, row.status_code) == ("POST", "/v1/messages", None)
    assert row.terminal_state == Request.Terminal.CLIENT_CANCELLED
    time.sleep(0.3)  # a second record would be written by now
    assert Request.objects.count() == 1
