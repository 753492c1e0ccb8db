"""A graceful shutdown (SIGTERM) writes every queued record before the process exits, and
takes no new request on a kept-alive connection."""

import json
import signal
import socket
from pathlib import Path

import httpx
import pytest

from analytics.models import Request
from tests import servers
from tests.conftest import FakeUpstream, proxy_env, wait_for
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)


def test_sigterm_drains_the_record_queue(
    fake_upstream: FakeUpstream, tmp_path: Path, django_db_setup: None
) -> None:
    make_account(name="only", api_key="sk-ant-api03-drain-test-key-0001")
    env = {
        **proxy_env(data_dir=tmp_path, upstream=fake_upstream),
        # Nothing is written during the test: only the shutdown drain can write.
        "RECORDER_FLUSH_MS": "600000",
    }
    process, port = servers.start_proxy_server(env=env)
    try:
        body = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
        for _ in range(5):
            response = httpx.post(f"http://127.0.0.1:{port}/v1/messages", json=body)
            assert response.status_code == 200
        assert Request.objects.count() == 0
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0
    assert Request.objects.count() == 5


def test_sigterm_closes_kept_alive_connections_and_finishes_the_answer_in_flight(
    fake_upstream: FakeUpstream, tmp_path: Path, django_db_setup: None
) -> None:
    make_account(name="only", api_key="sk-ant-api03-drain-test-key-0001")
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "SHUTDOWN_DRAIN_SECONDS": "60"}
    process, port = servers.start_proxy_server(env=env)
    try:
        idle = kept_alive(port)
        idle.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        idle.recv(65536)  # the whole (small) answer; the connection stays open
        busy = kept_alive(port)
        body = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 8, "stream": True})
        busy.sendall(stream_request(body.encode()))
        first = busy.recv(65536)
        process.send_signal(signal.SIGTERM)
        assert wait_for(lambda: refused(port), timeout=10)

        closed_while_draining = idle.recv(1)
        fake_upstream.release("drain")
        rest = read_to_the_end(busy)
        exit_code = process.wait(timeout=30)
    finally:
        servers.stop(process)

    assert first.startswith(b"HTTP/1.1 200 OK")
    # Before, it stayed open and served new requests until the drain's end (60 s here),
    # cutting any answer begun meanwhile.
    assert closed_while_draining == b""
    assert rest.endswith(b"\r\n0\r\n\r\n")  # the stream's end, then the connection's
    assert exit_code == 0


def kept_alive(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(10)
    return sock


def stream_request(body: bytes) -> bytes:
    return (
        b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"x-fake-scenario: gated_stream;gate=drain;events=1\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def read_to_the_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False
