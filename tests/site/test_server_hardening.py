"""Server-level limits, against a real daphne on a fresh DATA_DIR, over raw sockets.

Request deadlines (408), oversized request lines and headers (414/431), the access log's
redaction, the one-line DisallowedHost log and the owner-only files of a fresh start.
"""

import contextlib
import importlib.util
import json
import os
import re
import select
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import servers

HEADER_TIMEOUT_SECONDS = 1.0
BODY_TIMEOUT_SECONDS = 2.0
# How late a deadline may fire on a busy 2-core machine and still pass.
SLACK_SECONDS = 2.5
# The umask of a typical login shell, so file modes show what the server sets, not the caller.
CALLER_UMASK = 0o022


@dataclass
class Server:
    host: str
    port: int
    data_dir: Path
    output_path: Path
    env: dict[str, str]

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """daphne on a brand-new SQLite DATA_DIR that already existed readable by all."""
    root = tmp_path_factory.mktemp("hardening")
    data_dir = root / "data"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    env = {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "SECRET_KEY": "",
        "REDIS_URL": "",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        # As behind a reverse proxy that terminates TLS (docs/deployment.md).
        "CSRF_TRUSTED_ORIGINS": "https://127.0.0.1",
        "SECURE_COOKIES": "true",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "pretty",
        # Nothing listens there: no test here reaches an upstream.
        "UPSTREAM_BASE_URL": "http://127.0.0.1:9",
        "HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_SECONDS),
        "BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
        "SSE_HEARTBEAT_SECONDS": "0.5",
        # daphne's access log goes to stdout; unbuffered, each line is in the file at once.
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, "manage.py"]
    run_env = servers.server_env(env)  # the same explicit environment the server gets
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v", "0"],
        cwd=servers.PROJECT_ROOT,
        env=run_env,
        umask=CALLER_UMASK,
        check=True,
    )
    output_path = root / "server-output.log"
    with output_path.open("wb") as output, caller_umask():
        process, port = servers.start_proxy_server(env=env, output=output)
    yield Server("127.0.0.1", port, data_dir, output_path, env)
    servers.stop(process)


@contextlib.contextmanager
def caller_umask() -> Iterator[None]:
    """Start children with CALLER_UMASK (this process's settings set 0o077)."""
    saved = os.umask(CALLER_UMASK)
    try:
        yield
    finally:
        os.umask(saved)


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, *, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes; what arrived before a reset."""
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        received += chunk
    return received


def trickle(sock: socket.socket, data: bytes, *, interval: float, limit: float) -> float:
    """Send `data` a byte at a time until the server answers or closes; the seconds it took.

    Gives up after `limit` seconds (a server without a deadline never answers).
    """
    started = time.monotonic()
    for byte in data:
        readable, _, _ = select.select([sock], [], [], interval)
        if readable or time.monotonic() - started > limit:
            break
        try:
            sock.send(bytes([byte]))
        except OSError:
            break
    select.select([sock], [], [], max(0.0, limit - (time.monotonic() - started)))
    return time.monotonic() - started


def request(server: Server, raw: bytes) -> bytes:
    """Send a whole request on a new connection; the server's answer until it closes."""
    with connect(server) as sock:
        try:
            sock.sendall(raw)
        except OSError:
            pass
        return read_until_closed(sock)


def request_in_pieces(server: Server, *pieces: bytes) -> bytes:
    """Send a request in pieces the server reads apart (a pause between them)."""
    with connect(server) as sock:
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.05)
        return read_until_closed(sock)


def anthropic_error(message: str) -> dict:
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def status_line(response: bytes) -> bytes:
    return response.split(b"\r\n", 1)[0]


def test_request_headers_sent_too_slowly_get_408_and_a_close(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        took = trickle(sock, b"X-Slow: " + b"a" * 100, interval=0.2, limit=8.0)
        response = read_until_closed(sock)

    assert status_line(response) == b"HTTP/1.1 408 Request Timeout"
    assert took < HEADER_TIMEOUT_SECONDS + SLACK_SECONDS


def test_request_body_sent_too_slowly_gets_408_after_the_body_deadline(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        took = trickle(sock, b"x" * 1000, interval=0.2, limit=8.0)
        response = read_until_closed(sock)

    assert status_line(response) == b"HTTP/1.1 408 Request Timeout"
    assert BODY_TIMEOUT_SECONDS - 0.2 < took < BODY_TIMEOUT_SECONDS + SLACK_SECONDS


def test_an_idle_keep_alive_connection_outlives_the_header_deadline(server: Server) -> None:
    with httpx.Client(base_url=f"http://{server.host}:{server.port}") as client:
        first = client.get("/health")
        time.sleep(HEADER_TIMEOUT_SECONDS + 0.5)
        second = client.get("/health", extensions={"timeout": {"pool": 1.0}})

    assert (first.status_code, second.status_code) == (200, 200)
    assert client_connection_reused(first, second)


def client_connection_reused(first: httpx.Response, second: httpx.Response) -> bool:
    return first.extensions["network_stream"] is second.extensions["network_stream"]


def test_a_response_streams_for_longer_than_both_deadlines(server: Server) -> None:
    token = create_api_token(server)
    started = time.monotonic()
    heartbeats = 0
    with httpx.stream(
        "GET",
        f"http://{server.host}:{server.port}/api/logs/stream",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as response:
        for line in response.iter_lines():
            heartbeats += line.startswith(":")
            if time.monotonic() - started > HEADER_TIMEOUT_SECONDS + BODY_TIMEOUT_SECONDS + 1:
                break

    assert response.status_code == 200
    assert heartbeats >= 4


def create_api_token(server: Server) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "create_api_token", f"hardening-{time.monotonic_ns()}"],
        cwd=servers.PROJECT_ROOT,
        env=servers.server_env(server.env),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large",
            id="one-header-line-over-the-line-limit",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"".join(b"X-H%d: %s\r\n" % (n, b"a" * 500) for n in range(40))
            + b"\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large",
            id="header-block-over-the-total-limit",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"".join(b"X-H%d: a\r\n" % n for n in range(600))
            + b"\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large",
            id="more-headers-than-allowed",
        ),
        pytest.param(
            b"GET /health?q=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            b"HTTP/1.1 414 URI Too Long",
            id="request-line-over-the-line-limit",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n",
            b"HTTP/1.1 400 Bad Request",
            id="malformed-header-stays-400",
        ),
    ],
)
def test_an_oversized_request_head_gets_its_status_then_a_close(
    server: Server, raw: bytes, expected: bytes
) -> None:
    response = request(server, raw)

    assert status_line(response) == expected
    assert b"\r\nConnection: close\r\n" in response


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"GET /health HTTP/1.1\r\n\r\n", id="http-1.1-without-host"),
        pytest.param(
            b"POST /v1/messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            id="without-host-with-a-body",
        ),
        pytest.param(
            b"GET /v1/models HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1\r\n\r\n",
            id="host-twice",
        ),
        pytest.param(
            b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n",
            id="host-twice-http-1.0",
        ),
        pytest.param(
            b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n",
            id="transfer-encoding-twice",  # one line "chunked, identity" was refused already
        ),
        pytest.param(
            b"POST /v1/messages HTTP/1.0\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"\r\n2\r\n{}\r\n0\r\n\r\n",
            id="transfer-encoding-in-http-1.0",  # was decoded as chunked and forwarded
        ),
        pytest.param(
            b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: identity\r\n"
            b"Content-Length: 2\r\n\r\n{}",
            id="transfer-encoding-not-ending-in-chunked",  # was framed by Content-Length: 200
        ),
        pytest.param(
            b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
            b"X-A: a\r\n Transfer-Encoding: chunked\r\n\r\n{}",
            id="a-header-folded-over-two-lines",  # was one header, X-A: a Transfer-Encoding...
        ),
    ],
)
def test_a_request_a_front_proxy_might_read_otherwise_is_refused(
    server: Server, raw: bytes
) -> None:
    response = request(server, raw)

    assert status_line(response) == b"HTTP/1.1 400 Bad Request"
    assert b"\r\nConnection: close\r\n" in response
    assert b"HTTP/1.1 200" not in response


def test_a_header_folded_where_the_head_was_cut_in_two_is_refused(server: Server) -> None:
    head = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nX-A: a\r\n"
    response = request_in_pieces(server, head, b" Transfer-Encoding: chunked\r\n\r\n{}")

    assert status_line(response) == b"HTTP/1.1 400 Bad Request"


def test_a_header_folded_in_a_request_pipelined_behind_another_is_refused(
    server: Server,
) -> None:
    # One chunk: Twisted keeps the second head while it serves the first, then hands it
    # back through dataReceived, where the fold check reads it.
    first = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    second = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
    second += b"X-A: a\r\n Transfer-Encoding: chunked\r\n\r\n{}"
    response = request(server, first + second)

    assert status_line(response) == b"HTTP/1.1 200 OK"
    assert response.count(b"HTTP/1.1 ") == 2
    assert b"HTTP/1.1 400 Bad Request" in response
    assert b"The request is malformed" in response


PRETTY = b'{\n  "name": "x",\n\t"priority": 1\n}'


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(b"\r\n", id="after-the-last-header-line"),
        pytest.param(b"\r\n\r", id="inside-the-empty-line"),
        pytest.param(b"", id="before-the-last-crlf"),
    ],
)
def test_an_indented_body_after_a_head_cut_near_its_end_is_no_fold(
    server: Server, cut: bytes
) -> None:
    head = b"POST /api/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += b"Content-Type: application/json\r\nContent-Length: %d" % len(PRETTY)
    rest = b"\r\n\r\n"[len(cut) :] + PRETTY
    response = request_in_pieces(server, head + cut, rest)

    # Not the malformed-head 400: the API's own answer to a caller without credentials.
    assert status_line(response) == b"HTTP/1.1 401 Unauthorized", response[:300]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n",
            anthropic_error("The request's headers are too large or too many"),
            id="anthropics-shape-on-v1",
        ),
        pytest.param(
            b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n",
            {"error": "The request's headers are too large or too many"},
            id="the-apis-shape-on-api",
        ),
        pytest.param(
            b"GET /v1/models?q=" + b"a" * 20_000 + b" HTTP/1.1\r\n",
            anthropic_error("The request line is too long"),
            id="line-too-long-on-v1",
        ),
        pytest.param(
            b"GET /api/requests?q=" + b"a" * 20_000 + b" HTTP/1.1\r\n",
            {"error": "The request line is too long"},
            id="line-too-long-on-api",
        ),
        # Twisted refuses a target with a byte that is not ASCII before it keeps the path.
        pytest.param(
            b"GET /api/stats\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            {"error": "The request is malformed"},
            id="not-ascii-on-api",
        ),
        pytest.param(
            b"POST /v1/messages\xc3\xa9 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            anthropic_error("The request is malformed"),
            id="not-ascii-on-v1",
        ),
        pytest.param(
            b"POST /api/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: Identity\r\n"
            b"Content-Length: 2\r\n\r\n{}",
            {"error": "The request is malformed"},
            id="transfer-encoding-identity-on-api",
        ),
    ],
)
def test_a_refused_request_head_is_told_why_in_its_clients_error_shape(
    server: Server, raw: bytes, expected: dict
) -> None:
    response = request(server, raw)

    head, _, body = response.partition(b"\r\n\r\n")
    assert b"\r\nContent-Type: application/json\r\n" in head
    assert b"\r\nX-Content-Type-Options: nosniff\r\n" in head
    assert json.loads(body) == expected


@pytest.mark.parametrize(
    ("target", "host", "expected"),
    [
        pytest.param(b"http://127.0.0.1/health", b"127.0.0.1", b"200 OK", id="absolute-form"),
        # The target's authority is the host (RFC 9112), whatever the Host header says.
        pytest.param(
            b"http://evil.example/health", b"127.0.0.1", b"400 Bad Request", id="its-host"
        ),
        pytest.param(
            b"http://127.0.0.1/api/nowhere", b"evil.example", b"404 Not Found", id="not-host"
        ),
        pytest.param(b"*", b"127.0.0.1", b"400 Bad Request", id="asterisk-form"),
        pytest.param(b"127.0.0.1:443", b"127.0.0.1", b"400 Bad Request", id="authority-form"),
    ],
)
def test_a_request_target_not_in_origin_form_is_read_as_the_rfc_says(
    server: Server, target: bytes, host: bytes, expected: bytes
) -> None:
    # An absolute URL was taken whole as the path: Django's HTML 404 for /v1/ and /api/.
    response = request(
        server, b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
    )

    assert status_line(response) == b"HTTP/1.1 " + expected
    assert b"Content-Type: application/json" in response.partition(b"\r\n\r\n")[0]
    assert b"<html" not in response


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            b"GET /api/stats HTTP/1.1\nHost: 127.0.0.1\n\n",
            {"error": "The request is malformed"},
            id="the-apis-shape-on-api",
        ),
        pytest.param(
            b"POST /v1/messages HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 2\n\n{}",
            anthropic_error("The request is malformed"),
            id="anthropics-shape-on-v1",
        ),
        pytest.param(b"GET /health\n", anthropic_error("The request is malformed"), id="no-path"),
        pytest.param(
            b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\nContent-Length: 2\n\n{}",
            anthropic_error("The request is malformed"),
            id="a-crlf-request-line-then-lf-headers",  # waited for the header deadline: 408
        ),
        pytest.param(
            b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\n\r\n",
            {"error": "The request is malformed"},
            id="lf-on-the-last-header-line",
        ),
    ],
)
def test_a_request_head_with_bare_line_feeds_is_refused_at_once(
    server: Server, raw: bytes, expected: dict
) -> None:
    # As `printf 'GET /health HTTP/1.1\n...' | nc` sends it: Twisted reads lines up to CRLF
    # only, and answered 408 once the header deadline had passed.
    started = time.monotonic()
    response = request(server, raw)

    assert time.monotonic() - started < HEADER_TIMEOUT_SECONDS
    assert status_line(response) == b"HTTP/1.1 400 Bad Request"
    assert json.loads(response.partition(b"\r\n\r\n")[2]) == expected


def test_a_bare_line_feed_in_a_later_part_of_the_head_is_refused_at_once(
    server: Server,
) -> None:
    started = time.monotonic()
    response = request_in_pieces(
        server, b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"Content-Length: 2\n\n{}"
    )

    assert time.monotonic() - started < HEADER_TIMEOUT_SECONDS
    assert status_line(response) == b"HTTP/1.1 400 Bad Request"


CHUNKED_HEAD = (
    b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize(
    ("body", "status", "error_type"),
    [
        pytest.param(b"2\n{}\n0\n\n", b"400 Bad Request", "invalid_request_error", id="lf-size"),
        pytest.param(b"2\r\n{}\r\n0\n", b"400 Bad Request", "invalid_request_error", id="lf-end"),
        pytest.param(
            b"2\r\n{}\r\n0\r\nX-T: 1\n",
            b"400 Bad Request",
            "invalid_request_error",
            id="lf-trailer",
        ),
        pytest.param(
            b"ffffffffffff\r\n{", b"413 Content Too Large", "request_too_large", id="huge-chunk"
        ),
    ],
)
def test_a_chunked_body_its_decoder_would_wait_on_is_refused_at_once(
    server: Server, body: bytes, status: bytes, error_type: str
) -> None:
    # Twisted's decoder waited for a CRLF, or for the chunk's bytes, until the body
    # deadline (120 s by default), then answered 408.
    response = request_in_pieces(server, CHUNKED_HEAD, body)

    assert status_line(response) == b"HTTP/1.1 " + status
    assert json.loads(response.partition(b"\r\n\r\n")[2])["error"]["type"] == error_type


@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param((b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r", b"\n\r\n"), id="crlf-cut"),
        pytest.param(
            (b"GET /health HTTP/1.1\r", b"\nHost: 127.0.0.1\r\n\r\n"), id="request-line-cut"
        ),
        pytest.param(
            (
                b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r" % len(PRETTY),
                b"\n\r\n" + PRETTY,
            ),
            id="crlf-cut-before-a-body-with-line-feeds",
        ),
        pytest.param(
            (
                b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                % len(PRETTY)
                + PRETTY,
            ),
            id="a-body-with-line-feeds-in-the-heads-chunk",
        ),
    ],
)
def test_line_feeds_that_end_crlfs_or_belong_to_the_body_are_no_bare_line_feeds(
    server: Server, pieces: tuple[bytes, ...]
) -> None:
    response = request_in_pieces(server, *pieces)

    assert status_line(response) == b"HTTP/1.1 200 OK", response[:300]


@pytest.mark.parametrize(
    "connection",
    [b"Connection: close, x-private\r\n", b"Connection: keep-alive\r\nConnection: Close\r\n"],
    ids=["listed", "second-line"],
)
def test_a_close_anywhere_in_the_connection_lines_closes_after_the_answer(
    server: Server, connection: bytes
) -> None:
    # Twisted read the first line's words split at spaces: the connection stayed open
    # until the client gave up.
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + connection + b"\r\n")
        response = read_until_closed(sock, timeout=5.0)

    assert status_line(response) == b"HTTP/1.1 200 OK"
    assert b"\r\nconnection: close\r\n" in response.lower()
    assert time.monotonic() - started < 3.0


def test_health_answers_head_as_get_without_a_body(server: Server) -> None:
    head = request(server, b"HEAD /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    post = request(server, b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")

    assert status_line(head) == b"HTTP/1.1 200 OK"
    assert head.endswith(b"\r\n\r\n")  # the head alone
    assert status_line(post) == b"HTTP/1.1 405 Method Not Allowed"
    assert b"\r\nAllow: GET, HEAD\r\n" in post


def test_a_header_value_daphne_refuses_is_still_refused(server: Server) -> None:
    # ccflare_site.web_request takes daphne's first step for plain HTTP, with its checks
    # and answers. Twisted's parser lets a vertical tab through in a value; daphne's check
    # refuses it. (Twisted itself refuses names that are not tokens, NUL, CR and LF in
    # values, and a path or query string that is not ASCII.)
    response = request(
        server,
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Tab: a\x0bb\r\n\r\n",
    )

    assert status_line(response) == b"HTTP/1.1 400 Bad Request"
    assert b"Invalid header value" in response


def test_an_upgrade_request_still_takes_daphnes_own_path(server: Server) -> None:
    # A websocket handshake without a login: daphne hands it to the websocket
    # protocol, whose origin check refuses it (as plain HTTP, Django would answer 404).
    response = request(
        server,
        b"GET /ws/requests/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n\r\n",
    )

    assert status_line(response) == b"HTTP/1.1 403 Access denied"  # autobahn's refusal


def test_an_answer_larger_than_the_socket_takes_reaches_a_slow_reader_whole(
    server: Server,
) -> None:
    # ccflare_site.prompt_writes sends at the end of the loop's turn; what the socket does
    # not take must still wait for writability and follow (1.4 MB into a 4 KB window).
    expected = (
        Path(importlib.util.find_spec("ninja").origin or "").parent  # type: ignore[union-attr]
        / "static/ninja/swagger-ui-bundle.js"
    ).read_bytes()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    with sock:
        sock.connect((server.host, server.port))
        sock.sendall(
            b"GET /static/ninja/swagger-ui-bundle.js HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Connection: close\r\n\r\n"
        )
        time.sleep(0.5)  # the server fills the buffers and has to wait
        response = read_until_closed(sock)

    head, _, body = response.partition(b"\r\n\r\n")
    assert status_line(head) == b"HTTP/1.1 200 OK"
    assert body == expected


def test_the_access_log_redacts_credentials_in_query_strings(server: Server) -> None:
    secrets = ["sk-ant-api03-querysecret1", "plainkeysecret2", "plaintokensecret3", "sigsecret4"]
    query = f"api_key={secrets[0]}&key={secrets[1]}&token={secrets[2]}&x-sig={secrets[3]}&q=ok"
    httpx.get(f"http://{server.host}:{server.port}/health?{query}").raise_for_status()

    line = wait_for_line(server, r'"GET /health\?[^"]*q=ok"')
    assert line.count("[REDACTED]") == 4
    assert not [secret for secret in secrets if secret in server.output()]


def wait_for_line(server: Server, pattern: str, *, timeout: float = 5.0) -> str:
    """The first line of the server's output matching `pattern` (it may lag the response)."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(f"^.*{pattern}.*$", server.output(), re.MULTILINE)
        if found or time.monotonic() > deadline:
            assert found, f"no line matching {pattern!r} in the server output"
            return found.group(0)
        time.sleep(0.05)


def test_a_bad_host_is_a_400_and_one_short_log_line(server: Server) -> None:
    response = request(
        server, b"GET /dashboard/ HTTP/1.1\r\nHost: unlisted.example\r\nConnection: close\r\n\r\n"
    )

    assert status_line(response) == b"HTTP/1.1 400 Bad Request"
    line = wait_for_line(server, r"Invalid HTTP_HOST header: 'unlisted\.example'")
    assert len(line) < 300
    assert "Traceback" not in server.output()
    # This test's own entry: other tests on this server send bad hosts of their own
    # (evil.example, in an absolute-form target).
    entries = [
        entry
        for entry in log_file_entries(server, "django.security.DisallowedHost")
        if "unlisted.example" in entry["msg"]
    ]
    assert [set(entry) for entry in entries] == [{"ts", "level", "logger", "msg"}]
    # The client's mistake, not the server's: Django's ERROR set off alerts for it.
    assert [entry["level"] for entry in entries] == ["WARNING"]
    assert b"\r\nInvalid Host header\r\n" in response  # Django's page said "Bad Request"


def test_a_bad_host_on_the_api_says_so_in_the_apis_shape(server: Server) -> None:
    # Was {"error": "Bad Request"}, where /v1/ and /health say what is wrong.
    url = f"http://{server.host}:{server.port}/api/stats"
    response = httpx.get(url, headers={"Host": f"{server.host}:{server.port}."})

    assert (response.status_code, response.json()) == (400, {"error": "Invalid Host header"})


def log_file_entries(server: Server, logger: str) -> list[dict]:
    path = server.data_dir / "logs" / "ccflare.log"
    entries = map(json.loads, path.read_text().splitlines())
    return [entry for entry in entries if entry["logger"] == logger]


def test_a_fresh_start_creates_everything_owner_only(server: Server) -> None:
    # A database read and a log line, so the server has opened and created both.
    httpx.get(f"http://{server.host}:{server.port}/health").raise_for_status()
    request(server, b"GET / HTTP/1.1\r\nHost: bad.example\r\nConnection: close\r\n\r\n")
    wait_for_line(server, r"Invalid HTTP_HOST header: 'bad\.example'")

    modes = {
        str(path.relative_to(server.data_dir)): stat.S_IMODE(path.stat().st_mode)
        for path in [server.data_dir, *server.data_dir.rglob("*")]
    }

    assert {"ccflare.db", "secret_key", "logs/ccflare.log"} <= set(modes)
    assert {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (server.data_dir / name).is_dir() else 0o600)
    } == {}


def test_a_form_posted_from_the_tls_origin_of_a_reverse_proxy_is_not_refused(
    server: Server,
) -> None:
    # The browser says https (the proxy's origin), the server sees http: without the
    # origin in CSRF_TRUSTED_ORIGINS, the admin login was a 403 for everyone.
    url = f"http://{server.host}:{server.port}/admin/login/"
    with httpx.Client() as client:
        page = client.get(url)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None
        form = {"csrfmiddlewaretoken": token.group(1), "username": "nobody", "password": "x"}
        # The cookie is Secure (SECURE_COOKIES): the browser sends it over https only,
        # which the proxy in front turns into this plain request.
        cookie = f"csrftoken={page.cookies['csrftoken']}"
        headers = {"Origin": "https://127.0.0.1", "Cookie": cookie}
        answer = client.post(url, data=form, headers=headers)

    assert answer.status_code == 200
    assert "Please enter the correct username and password" in answer.text


def test_behind_tls_the_login_cookies_are_never_sent_in_plain_http(server: Server) -> None:
    # SECURE_COOKIES: without it a browser sent the admin's session in plain HTTP to the
    # same host (port 80 before the redirect to https).
    admin = {"DJANGO_SUPERUSER_USERNAME": "tls-admin", "DJANGO_SUPERUSER_PASSWORD": "tls-pass-123"}
    subprocess.run(
        [sys.executable, "manage.py", "ensure_admin"],
        cwd=servers.PROJECT_ROOT,
        env=servers.server_env({**server.env, **admin}),
        check=True,
        capture_output=True,
    )
    url = f"http://{server.host}:{server.port}/admin/login/"
    with httpx.Client() as client:
        page = client.get(url)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None
        form = {"csrfmiddlewaretoken": token.group(1), "username": "tls-admin"}
        cookie = f"csrftoken={page.cookies['csrftoken']}"
        headers = {"Origin": "https://127.0.0.1", "Cookie": cookie}
        login = client.post(url, data={**form, "password": "tls-pass-123"}, headers=headers)

    assert login.status_code == 302
    cookies = {line.split("=")[0]: line for line in login.headers.get_list("set-cookie")}
    assert "; Secure" in page.headers["set-cookie"]
    assert "; Secure" in cookies["sessionid"] and "; Secure" in cookies["csrftoken"]


def test_a_head_of_an_api_route_gets_its_head_without_a_body_on_a_kept_connection(
    server: Server,
) -> None:
    # A HEAD answer has no body (RFC 9110 §9.3.2): were one sent, the client would read
    # it as the start of the next answer on the connection.
    with connect(server) as sock:
        sock.sendall(
            b"HEAD /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        received = read_until_closed(sock)

    head, _, rest = received.partition(b"\r\n\r\n")
    assert status_line(head) == b"HTTP/1.1 401 Unauthorized"  # as its GET, with no token
    assert b"content-type: application/json" in head.lower()
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
