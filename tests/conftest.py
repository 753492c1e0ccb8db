"""Shared fixtures: fast password hashing, the fake upstream, and a real daphne running ccflare.

Also the hypothesis profiles: "ci" (chosen when CI is set) draws the same examples every
run and keeps no example database, so a CI failure is reproducible and never replays
from a stale `.hypothesis` folder; "dev" explores new examples each run and remembers
failing ones in `.hypothesis/`. `--hypothesis-profile NAME` picks one explicitly.
"""

import asyncio
import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from hypothesis import settings as hypothesis_settings

from accounts.models import Account
from analytics import price_seed
from analytics.models import ModelPrice
from analytics.reporting import report_cache
from tests import servers
from tests.webhook import WebhookReceiver

# Several flush ticks of the live server (RECORDER_FLUSH_MS=20 below).
QUIESCE_SECONDS = 0.15


def in_ci() -> bool:
    """Whether this run is CI's (CI=true, as CI services and .ci/run set it)."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


hypothesis_settings.register_profile(
    "ci", derandomize=True, database=None, max_examples=40, print_blob=True
)
hypothesis_settings.register_profile("dev", max_examples=40)
hypothesis_settings.load_profile("ci" if in_ci() else "dev")


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's, and at the end the database sessions that threads still hold go first.

    The account pool's, the budgets' and the executors' threads each keep a connection of
    their own. On PostgreSQL the test database could then not be dropped at the end ("is
    being accessed by other users", a warning at the end of every run).
    """
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def no_report_kept_between_tests() -> Iterator[None]:
    """A slow report one test built must not answer the next one's (another database)."""
    yield
    report_cache._kept.clear()  # this process's (forget() also writes the database's mark)


@dataclass
class FakeUpstream:
    url: str

    def reset(self) -> None:
        httpx.post(f"{self.url}/_fake/reset").raise_for_status()

    def add_rule(self, **rule: Any) -> None:
        httpx.post(f"{self.url}/_fake/rules", json=rule).raise_for_status()

    def configure(self, **config: Any) -> None:
        """Change what the replies say until the next reset (see tests/fake_upstream.py)."""
        httpx.post(f"{self.url}/_fake/config", json=config).raise_for_status()

    def release(self, gate: str) -> None:
        """Let a gated_stream waiting on `gate` send its next event."""
        httpx.post(f"{self.url}/_fake/gates/{gate}").raise_for_status()

    def log(self) -> list[dict]:
        """Every request received; read headers with header() or header_values()."""
        return httpx.get(f"{self.url}/_fake/log").json()


def header_values(entry: dict, name: str) -> list[str]:
    """Every value of header `name` in a fake upstream log entry, in the order received."""
    return [value for key, value in entry["headers"] if key == name.lower()]


def header(entry: dict, name: str) -> str | None:
    """The value of header `name` in a log entry, None if absent; fails if it came twice."""
    values = header_values(entry, name)
    assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
    return values[0] if values else None


@dataclass
class ProxyServer:
    url: str
    log_path: Path
    # The environment it was started with, to start a twin on the same database.
    env: dict[str, str] = field(default_factory=dict)

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    process, port = servers.start_fake_upstream()
    yield FakeUpstream(f"http://127.0.0.1:{port}")
    servers.stop(process)


@pytest.fixture(autouse=True)
def fake_upstream_left_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever rules a test gave the shared fake upstream end with it.

    A rule without `times` (every call answered 529, say) would otherwise answer the
    next test that talks to the fake without resetting it first.
    """
    yield
    if "fake_upstream" in request.fixturenames:
        request.getfixturevalue("fake_upstream").reset()


def database_url(db: dict) -> str:
    """The URL of the test database, for the daphne process to share it."""
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture(scope="session")
def proxy_server(
    django_db_setup: None,
    fake_upstream: FakeUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProxyServer]:
    """A real daphne serving ccflare on the test database, talking to the fake upstream."""
    data_dir = tmp_path_factory.mktemp("proxy-data")
    with serving_proxy(proxy_env(data_dir=data_dir, upstream=fake_upstream)) as server:
        yield server


@contextlib.contextmanager
def serving_proxy(env: dict[str, str]) -> Iterator[ProxyServer]:
    """A daphne started with `env`, logging to DATA_DIR/server.log, stopped at the end."""
    log_path = Path(env["DATA_DIR"]) / "server.log"
    with log_path.open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
        try:
            yield ProxyServer(f"http://127.0.0.1:{port}", log_path, env)
        finally:
            servers.stop(process)


def proxy_env(*, data_dir: Path, upstream: FakeUpstream) -> dict[str, str]:
    """The settings of a test daphne: the test database, the fake upstream, short timings."""
    return {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url(connection.settings_dict),
        # Same key as this process, so both read each other's encrypted credentials.
        "SECRET_KEY": settings.SECRET_KEY,
        "UPSTREAM_BASE_URL": upstream.url,
        # Tests change accounts between requests: always read the current state.
        "ACCOUNT_CACHE_SECONDS": "0",
        "RECORDER_FLUSH_MS": "20",
        # Prices change between tests (each transactional test starts empty).
        "PRICE_CACHE_SECONDS": "0",
        "RETRY_ATTEMPTS": "2",
        "RETRY_DELAY_MS": "20",
        "MAX_BODY_MB": "1",
        "PAYLOAD_CAPTURE_MAX_KB": "64",
        # Live-stream tests wait for a heartbeat; 15 s would make them slow.
        "SSE_HEARTBEAT_SECONDS": "0.5",
        # OAuth logins and token refreshes go to the fake too, never to Anthropic.
        "OAUTH_TOKEN_URL": f"{upstream.url}/v1/oauth/token",
        "OAUTH_CREATE_API_KEY_URL": f"{upstream.url}/api/oauth/claude_cli/create_api_key",
        "OAUTH_USAGE_URL": f"{upstream.url}/api/oauth/usage",
        # No usage polls in the background of other tests (they count upstream calls and
        # token refreshes); tests/accounts/test_usage_e2e.py starts a server that polls.
        "USAGE_POLL_SECONDS": "0",
        # Nor checks of rejected credentials (tests/accounts/test_recheck.py starts its own).
        "CREDENTIAL_RECHECK_SECONDS": "0",
        # The one browser origin allowed to call /v1/ (tests/proxy/test_guard_e2e.py).
        "CORS_ALLOWED_ORIGINS": "http://allowed.example",
        # Agent files of this server only (tests/agents write there), never ~/.claude/agents;
        # re-read on every request that has a system prompt, as tests change them.
        "AGENTS_DIR": str(data_dir / "agents"),
        "AGENTS_CACHE_SECONDS": "0",
    }


@pytest.fixture(scope="session")
def twin_proxy_server(
    proxy_server: ProxyServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyServer]:
    """A second daphne process on the same database, as when scaling out."""
    data_dir = tmp_path_factory.mktemp("twin-proxy-data")
    with serving_proxy({**proxy_server.env, "DATA_DIR": str(data_dir)}) as server:
        yield server


@pytest.fixture
def proxy(
    proxy_server: ProxyServer, fake_upstream: FakeUpstream, transactional_db: None
) -> Iterator[ProxyServer]:
    """The live proxy with a clean fake upstream and database (committed, visible to daphne).

    After the test, give the server's background flush time to finish before the
    database is emptied: on PostgreSQL a TRUNCATE racing a batch write can deadlock.
    """
    fake_upstream.reset()
    yield proxy_server
    time.sleep(QUIESCE_SECONDS)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A real HTTP receiver on 127.0.0.1 standing in for a chat service's incoming webhook."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def prices(transactional_db: None) -> None:
    """The seeded price table (transactional tests flush it away between tests)."""
    price_seed.seed_prices(ModelPrice)


@pytest.fixture
def api_token(db: None) -> str:
    """The secret of a fresh API token."""
    from access import credentials

    return credentials.create_api_token(name="tests")[1]


@pytest.fixture
def api_client(api_token: str) -> Client:
    """A Django test client that sends an API token on every request."""
    return Client(headers={"Authorization": f"Bearer {api_token}"})


@pytest.fixture
def staff_client(db: None) -> Client:
    """A Django test client logged in as a staff user (CSRF checks on, as in a browser)."""
    from django.contrib.auth.models import User

    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("staff", password="pw", is_staff=True))
    return client


async def until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    """Let the event loop run until `condition()` is true; fails if it is not in time."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def fail_new_connections(monkeypatch: pytest.MonkeyPatch, *, after: int = 0) -> None:
    """New connections on the running loop, after the first `after`, fail where lib.h1 opens
    its socket, as in a process out of file descriptors (a real shortage: tests/lib/h1,
    tests/proxy/test_failures_e2e.py)."""
    loop = asyncio.get_running_loop()
    connect = loop.create_connection
    left = after

    async def no_socket(*args: Any, **kwargs: Any) -> Any:
        nonlocal left
        if left > 0:
            left -= 1
            return await connect(*args, **kwargs)
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(loop, "create_connection", no_socket)


def account_state(account: Account) -> dict[str, Any]:
    """Every stored field: equal before and after, nothing was done to the account."""
    return {f.name: getattr(account, f.name) for f in Account._meta.concrete_fields}


def wait_for(predicate: Callable[[], Any], *, timeout: float = 5.0) -> Any:
    """Poll until `predicate()` is truthy (records are written in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


@pytest.fixture
def refuse_writes() -> Iterator[Callable[[], None]]:
    """Makes this thread's connection refuse writes, as one SQLite opened read-only does.

    SQLite falls back to read-only when it cannot open the file for writing (a full or
    write-protected disk), and the connection stays so after the cause is fixed. For a
    test with `transaction=True`: the connection is closed at its end.
    """

    def make_read_only() -> None:
        statement = (
            "PRAGMA query_only = ON"
            if connection.vendor == "sqlite"
            else "SET SESSION default_transaction_read_only = on"
        )
        with connection.cursor() as cursor:
            cursor.execute(statement)

    yield make_read_only
    connection.close()  # the test database's teardown writes
