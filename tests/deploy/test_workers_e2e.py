"""WORKERS=2 end to end: the real entry point (`python -m ccflare_site.serve`) starting two
daphne workers on one port, on the default SQLite database with no Redis.

Each request and websocket goes over a connection whose worker is known (tests/deploy/
connections.py), so "both workers" is checked, not hoped for.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import Account
from analytics.models import Request
from tests import servers
from tests.accounts.conftest import oauth_calls
from tests.conftest import QUIESCE_SECONDS, FakeUpstream, header, proxy_env, wait_for
from tests.deploy.connections import (
    WebSocket,
    connections_on_every_worker,
    http_request,
    owner,
    worker_pids,
)
from tests.factories import make_account, make_oauth_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

KEY = "sk-ant-api03-workers-backup-key-0001"
KEY_ALPHA = "sk-ant-api03-workers-alpha-key-00001"
MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
CLIENT_HEADERS = {"x-api-key": "client-own-key", "anthropic-version": "2023-06-01"}
ORIGINAL_REFRESH = "sk-ant-ort01-max-refresh-secret"


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    workers: set[int]
    log_path: Path


@pytest.fixture(scope="module")
def served(
    django_db_setup: None, fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """`python -m ccflare_site.serve` with WORKERS=2 on the test database."""
    data_dir = tmp_path_factory.mktemp("workers-data")
    env = {**proxy_env(data_dir=data_dir, upstream=fake_upstream), "WORKERS": "2"}
    log_path = data_dir / "server.log"
    with log_path.open("wb") as output:
        process, port = servers.start_served(env=env, output=output)
        workers = wait_for(lambda: len(worker_pids(process.pid)) == 2 and worker_pids(process.pid))
        assert workers, log_path.read_text()
        yield Served(process, port, workers, log_path)
        servers.stop(process, timeout=15)


@pytest.fixture(autouse=True)
def quiet_between_tests(served: Served, fake_upstream: FakeUpstream) -> Iterator[None]:
    """A clean fake; after the test, the workers' flushes done before the tables are emptied."""
    fake_upstream.reset()
    yield
    time.sleep(QUIESCE_SECONDS)


def post_message(sock: socket.socket) -> int:
    status, _body = http_request(sock, "POST", "/v1/messages", body=MESSAGE, headers=CLIENT_HEADERS)
    return status


def concurrently(
    pairs: list[tuple[socket.socket, int]], send: Callable[[socket.socket], int]
) -> list[int]:
    """Send on every connection at once (one thread each); the results in order."""
    results = [0] * len(pairs)

    def run(index: int) -> None:
        results[index] = send(pairs[index][0])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(pairs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def staff_cookie() -> str:
    client = Client()
    client.force_login(User.objects.create_user("ops", password="pw", is_staff=True))
    return f"sessionid={client.cookies['sessionid'].value}"


def test_the_dashboard_on_each_worker_sees_the_requests_of_both_and_metrics_sum_them(
    served: Served, fake_upstream: FakeUpstream
) -> None:
    make_account(name="work", api_key=KEY)
    cookie = staff_cookie()
    # The server (and its metrics) outlives one test: count what this test adds.
    metrics_page = metrics_reader(served)
    before = metrics_page()[0]
    sockets = [
        WebSocket(sock, "/ws/dashboard/?topics=requests", cookie=cookie)
        for sock, _pid in connections_on_every_worker(served.port, served.workers)
    ]
    hellos = [ws.receive() for ws in sockets]
    assert [hello["type"] for hello in hellos] == ["hello"] * len(sockets)
    # One start id for both workers: a page that reconnects to the other worker must keep
    # the rows of requests still running (it drops them after a new start).
    assert len({hello["startId"] for hello in hellos}) == 1

    senders = connections_on_every_worker(served.port, served.workers, per_worker=3)
    statuses = concurrently(senders, post_message)

    assert statuses == [200] * 6
    rows = wait_for(lambda: Request.objects.count() == 6 and list(Request.objects.all()))
    ids = {str(row.pk) for row in rows}
    # Each socket, on either worker, is told of all six, whichever worker served them.
    for ws in sockets:
        assert logged_ids(ws, count=6) == ids
    # Either worker's /metrics counts the six, whichever worker served them.
    expected = [before + 6] * len(served.workers)
    assert wait_for(lambda: metrics_page() == expected), metrics_page()


def metrics_reader(served: Served) -> Callable[[], list[float]]:
    """The requests each worker's /metrics counts, one connection to each worker."""
    auth = {"Authorization": f"Bearer {api_token()}"}

    def counted() -> list[float]:
        found = []
        for sock, _pid in connections_on_every_worker(served.port, served.workers):
            status, page = http_request(sock, "GET", "/metrics", headers=auth)
            assert status == 200
            found.append(requests_counted(page.decode()))
        return found

    return counted


def logged_ids(ws: WebSocket, *, count: int) -> set[str]:
    """The row ids of the next `count` request.logged events (the socket times out if fewer)."""
    seen: set[str] = set()
    while len(seen) < count:
        event = ws.receive()
        if event["type"] == "request.logged":
            seen.add(str(event["row"]["id"]))
    return seen


def api_token() -> str:
    from access import credentials

    return credentials.create_api_token(name="workers")[1]


def requests_counted(page: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == "ccflare_requests_total"
    )


def test_a_burst_of_connections_is_spread_over_the_workers(served: Served) -> None:
    # One socket per worker (SO_REUSEPORT): with a single shared socket, the worker that
    # woke first accepted the whole burst and the other stayed idle.
    pids = worker_pids(served.process.pid)
    socks = [socket.create_connection(("127.0.0.1", served.port), timeout=30) for _ in range(32)]
    try:
        owners = [owner(sock, served.port, pids) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    # Each of 32 connections lands on either socket by its hash: fewer than 4 on one
    # worker happens about once in a million bursts.
    assert all(owners.count(pid) >= 4 for pid in pids), owners


def test_a_second_server_on_the_port_fails_instead_of_joining(
    served: Served, tmp_path: Path, fake_upstream: FakeUpstream
) -> None:
    env = {
        **proxy_env(data_dir=tmp_path, upstream=fake_upstream),
        "WORKERS": "2",
        "HOST": "127.0.0.1",
        "PORT": str(served.port),
    }
    second = subprocess.run(
        [sys.executable, "-m", "ccflare_site.serve"],
        cwd=servers.PROJECT_ROOT,
        env=servers.server_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode != 0
    assert f"cannot listen on 127.0.0.1:{served.port}" in second.stderr


def test_both_workers_keep_one_session_and_refresh_an_expired_token_once(
    served: Served, fake_upstream: FakeUpstream
) -> None:
    make_oauth_account(name="max", priority=0, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    make_account(name="backup", api_key=KEY, priority=1)

    senders = connections_on_every_worker(served.port, served.workers, per_worker=8)
    statuses = concurrently(senders, post_message)

    assert statuses == [200] * 16
    calls = oauth_calls(fake_upstream)
    assert calls["refresh_counts"] == {ORIGINAL_REFRESH: 1}
    rows = wait_for(lambda: len(Request.objects.all()) == 16 and list(Request.objects.all()))
    assert {row.account_id for row in rows} == {Account.objects.get(name="max").pk}
    holders = wait_for(lambda: list(Account.objects.filter(holds_session=True)))
    assert [a.name for a in holders] == ["max"]


def test_a_crashed_worker_is_replaced_and_the_port_keeps_serving(served: Served) -> None:
    victim = min(served.workers)

    os.kill(victim, signal.SIGKILL)
    workers = wait_for(
        lambda: victim not in (now := worker_pids(served.process.pid)) and len(now) == 2 and now
    )

    assert len(workers) == 2
    (newcomer,) = workers - served.workers
    served.workers = workers
    # Serving once it accepts a connection (it loads the app first).
    assert wait_for(lambda: accepted_by(served.port, workers) == newcomer, timeout=60)


def accepted_by(port: int, workers: set[int]) -> int:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        return owner(sock, port, workers)


# SIGHUP: the terminal that ran `make run` closed. It ended the server at once, cutting
# the answer and losing its record (one process), or ended the supervisor alone (two).
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_stop_signal_stops_accepting_and_lets_the_request_in_flight_finish(
    workers: str, stop: signal.Signals, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    make_account(name="work", api_key=KEY)
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "WORKERS": workers}
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_served(env=env, output=output)
        try:
            finished = drain_while_streaming(process, port, fake_upstream, stop=stop)
        finally:
            servers.stop(process)

    assert finished.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert process.returncode == 0
    (row,) = wait_for(lambda: list(Request.objects.all()))
    assert row.status_code == 200 and row.terminal_state == "complete"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_under_nohup_a_hang_up_is_ignored(
    workers: str, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "WORKERS": workers}
    # As `nohup make run &`: the server starts with SIGHUP ignored, and keeps it so.
    kept = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        process, port = servers.start_served(env=env, output=subprocess.DEVNULL)  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGHUP, kept)
    try:
        process.send_signal(signal.SIGHUP)
        time.sleep(1)
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
    finally:
        servers.stop(process, timeout=15)

    assert health.status_code == 200
    assert process.returncode == 0  # stopped by the SIGTERM afterwards, drained


def drain_while_streaming(
    process: subprocess.Popen[bytes],
    port: int,
    fake_upstream: FakeUpstream,
    *,
    stop: signal.Signals = signal.SIGTERM,
) -> bytes:
    """Start a stream the fake holds open, signal the server `stop`, then let the stream end."""
    headers = {**CLIENT_HEADERS, "x-fake-scenario": "gated_stream;gate=drain;events=1"}
    body = {**MESSAGE, "stream": True}
    url = f"http://127.0.0.1:{port}/v1/messages"
    with httpx.stream("POST", url, json=body, headers=headers, timeout=30) as response:
        chunks = response.iter_raw()
        received = next(chunks)
        process.send_signal(stop)
        # Draining: the port refuses new connections while this one is still streaming.
        assert wait_for(lambda: refused(port), timeout=15)
        fake_upstream.release("drain")
        received += b"".join(chunks)
    process.wait(timeout=30)
    return received


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except (ConnectionRefusedError, ConnectionResetError):
        # A reset: the attempt was queued on a worker's listening socket just as the
        # worker closed it; either way the port no longer takes connections.
        return True
    return False


def test_workers_stop_when_the_supervisor_is_killed_outright_and_the_next_start_tidies_up(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "WORKERS": "2"}
    # Killed outright, the supervisor leaves its runtime folder (the live hub's socket)
    # behind, here in the test's own folder.
    env["TMPDIR"] = str(tmp_path)
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_served(env=env, output=output)
        workers = wait_for(lambda: len(worker_pids(process.pid)) == 2 and worker_pids(process.pid))

        process.kill()
        process.wait()

    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=30)
    assert refused(port)
    left = list(tmp_path.glob("ccflare-*"))
    assert len(left) == 1

    # The next start sweeps it, and keeps its own.
    with (tmp_path / "server-2.log").open("wb") as output:
        process, _ = servers.start_served(env=env, output=output)
        try:
            assert [p for p in tmp_path.glob("ccflare-*") if p not in left] != []
            assert not left[0].exists()
        finally:
            servers.stop(process)


def alive(pid: int) -> bool:
    """Running (a zombie left for init to reap counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_client_key_and_a_rate_limit_seen_by_one_worker_hold_on_the_other(
    served: Served, fake_upstream: FakeUpstream
) -> None:
    from access import credentials

    make_account(name="alpha", api_key=KEY_ALPHA, priority=0)
    make_account(name="beta", api_key=KEY, priority=1)
    _key, secret = credentials.create_client_key(name="team")
    with_key = {**CLIENT_HEADERS, "x-api-key": secret}

    def send(sock: socket.socket, headers: dict[str, str]) -> int:
        return http_request(sock, "POST", "/v1/messages", body=MESSAGE, headers=headers)[0]

    keyless = [send(s, CLIENT_HEADERS) for s, _ in connections_on_every_worker(*served_at(served))]
    (first, _), (second, _) = connections_on_every_worker(*served_at(served))
    fake_upstream.add_rule(credential=KEY_ALPHA, scenario="rate_limited", times=1)
    failed_over = send(first, with_key)
    assert wait_for(lambda: Account.objects.get(name="alpha").rate_limited_until)
    fake_upstream.reset()
    skipped = send(second, with_key)

    assert keyless == [401, 401]
    assert (failed_over, skipped) == (200, 200)
    # The other worker went straight to beta: alpha's limit reached it through the database.
    assert upstream_keys(fake_upstream) == [KEY]


def served_at(served: Served) -> tuple[int, set[int]]:
    return served.port, served.workers


def upstream_keys(fake_upstream: FakeUpstream) -> list[str | None]:
    return [header(e, "x-api-key") for e in fake_upstream.log() if e["path"] == "/v1/messages"]
