"""A graceful shutdown (SIGTERM) writes every queued record before the process exits (a
locked database it waits for within the drain), and takes no new request on a kept-alive
connection."""

import contextlib
import json
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connection

from access import credentials as access_credentials
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
        "RECORDER_FLUSH_MS": "60000",  # its maximum, a minute: longer than the test
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


# SQLite's busy timeout (settings.py): how long one write waits for another process's lock.
BUSY_TIMEOUT_SECONDS = 5
# Requests answered while the lock is held, all recorded only at shutdown.
LOCKED_REQUESTS = 40
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="a lock held by another process is SQLite's"
)


@sqlite_only
def test_sigterm_writes_the_records_once_a_lock_longer_than_the_busy_timeout_ends(
    fake_upstream: FakeUpstream, tmp_path: Path, django_db_setup: None
) -> None:
    process, port = recording_server(fake_upstream, tmp_path, drain_seconds=25)
    try:
        with database_locked() as locked_at:
            statuses = post_many(port, LOCKED_REQUESTS)
            process.send_signal(signal.SIGTERM)
            signalled_at = time.monotonic()
            # Longer than three busy timeouts: before, the background loop's write, the
            # final drain's and the one try at exit had all failed by then, each after
            # waiting one, and the records were gone.
            time.sleep(locked_at + 3.4 * BUSY_TIMEOUT_SECONDS - time.monotonic())
        exit_code = process.wait(timeout=30)
        exited_after = time.monotonic() - signalled_at
    finally:
        servers.stop(process)

    assert statuses == [200] * LOCKED_REQUESTS
    assert exit_code == 0
    assert Request.objects.count() == 1 + LOCKED_REQUESTS
    assert exited_after < 25
    assert "recording.lost_at_shutdown" not in (tmp_path / "server.log").read_text()


@sqlite_only
def test_sigterm_gives_up_on_a_lock_that_outlasts_the_drain_and_counts_the_records_lost(
    fake_upstream: FakeUpstream, tmp_path: Path, django_db_setup: None
) -> None:
    process, port = recording_server(fake_upstream, tmp_path, drain_seconds=6)
    try:
        with database_locked():
            statuses = post_many(port, LOCKED_REQUESTS)
            process.send_signal(signal.SIGTERM)
            signalled_at = time.monotonic()
            exit_code = process.wait(timeout=30)
            exited_after = time.monotonic() - signalled_at
    finally:
        servers.stop(process)

    assert statuses == [200] * LOCKED_REQUESTS
    assert exit_code == 0
    # The drain's 6 s, a second more for the last try at the lock, and the exit itself.
    assert 6 - 1 < exited_after < 6 + 4
    assert (
        f"recording.lost_at_shutdown count={LOCKED_REQUESTS}"
        in (tmp_path / "server.log").read_text()
    )
    assert Request.objects.count() == 1


def recording_server(
    upstream: FakeUpstream, tmp_path: Path, *, drain_seconds: int
) -> tuple[subprocess.Popen, int]:
    """A server with one account that has written its first request (the background loop
    runs, the session is written), logging to tmp_path/server.log."""
    make_account(name="only", api_key="sk-ant-api03-drain-test-key-0001")
    env = {
        **proxy_env(data_dir=tmp_path, upstream=upstream),
        # The accounts as a running server keeps them, not read again (and their pending
        # changes written first) for every request while the lock is held.
        "ACCOUNT_CACHE_SECONDS": "60",
        "SHUTDOWN_DRAIN_SECONDS": str(drain_seconds),
    }
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
    try:
        first_written(port)
    except BaseException:
        servers.stop(process)
        raise
    return process, port


def first_written(port: int) -> None:
    """One request recorded: the background loop runs and the account's session is written."""
    assert post_many(port, 1) == [200]
    assert wait_for(lambda: Request.objects.count() == 1, timeout=10)


def post_many(port: int, count: int) -> list[int]:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        return [client.post("/v1/messages", json=body).status_code for _ in range(count)]


@contextlib.contextmanager
def database_locked() -> Iterator[float]:
    """Hold the test database's write lock from another connection, as a long
    `manage.py compact` does; yields when it was taken (time.monotonic())."""
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield time.monotonic()
        holder.execute("COMMIT")
    finally:
        holder.close()


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


def test_sigterm_ends_the_live_streams_answers_instead_of_cutting_them(
    fake_upstream: FakeUpstream, tmp_path: Path, django_db_setup: None
) -> None:
    # Cut by daphne's shutdown, each open stream was an unfinished chunked answer (curl:
    # exit 18) and an ERROR "Task exception was never retrieved" in the log.
    token = access_credentials.create_api_token(name="shutdown-streams")[1]
    with (tmp_path / "server.log").open("wb") as output:
        env = proxy_env(data_dir=tmp_path, upstream=fake_upstream)
        process, port = servers.start_proxy_server(env=env, output=output)
    url = f"http://127.0.0.1:{port}/api/requests/stream"
    try:
        with httpx.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: connected"
            process.send_signal(signal.SIGTERM)
            rest = list(lines)  # raises if the answer is cut rather than ended
        exit_code = process.wait(timeout=30)
    finally:
        servers.stop(process)

    assert exit_code == 0
    assert "data: ok" in rest
    log = (tmp_path / "server.log").read_text()
    assert "ERROR" not in log and "Task exception" not in log
