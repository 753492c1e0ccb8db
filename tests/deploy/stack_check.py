"""`make stack-test`: bring deploy/compose.yaml up with podman-compose and check the team stack.

    .venv/bin/python -m tests.deploy.stack_check

PostgreSQL, Redis, two ccflare replicas and Caddy in front, as deploy/compose.yaml defines
them; only what this machine needs is changed: every service on the host's network (the
override tests/deploy/compose.hostnet.yaml) with free ports, local stand-ins for the
official postgres, redis and caddy images (tests/deploy/images/), and the fake upstream on
this host. Checks that requests through the one address reach both replicas, that the
replicas share the sticky session (one database), and that a live stream on one replica
sees the requests the other served (one Redis channel layer).
"""

import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests import servers
from tests.deploy.image_check import fake_upstream
from tests.deploy.podman import (
    IMAGE,
    PODMAN,
    build,
    ensure_base_image,
    podman,
    podman_env,
    timed,
)

PROJECT = "ccflare-stack-test"
HERE = Path(__file__).resolve().parent
COMPOSE = [
    *("-f", str(servers.PROJECT_ROOT / "deploy" / "compose.yaml")),
    *("-f", str(HERE / "compose.hostnet.yaml")),
]
STAND_INS = {
    name: f"localhost/ccflare-test-{name}:latest" for name in ("postgres", "redis", "caddy")
}
KEY_ALPHA = "sk-ant-api03-stack-alpha-account-key-01"
KEY_BETA = "sk-ant-api03-stack-beta-account-key-0002"
MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
CLIENT = {"x-api-key": "client-own-key", "anthropic-version": "2023-06-01"}


def build_images() -> None:
    build(IMAGE)
    for name, tag in STAND_INS.items():
        build(tag, HERE / "images", dockerfile=f"{name}.Dockerfile")


def stack_settings(upstream: str, env_file: Path) -> dict[str, str]:
    """The compose variables: secrets as deploy/.env would hold them, ports free on this host."""
    ports = {name: str(servers.free_port()) for name in ("POSTGRES", "REDIS", "A", "B", "PROXY")}
    # Settings compose does not name reach the replicas from the env file (env_file)...
    env_file.write_text(
        "USAGE_POLL_SECONDS=0\n"
        # Every request reads the accounts afresh, so a check never waits for a cache.
        "ACCOUNT_CACHE_SECONDS=0\nRECORDER_FLUSH_MS=20\n"
    )
    # ...those it names come from its variables (deploy/.env in real use).
    return {
        "UPSTREAM_BASE_URL": upstream,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(24),
        "CCFLARE_ENV_FILE": str(env_file),
        "CCFLARE_IMAGE": IMAGE,
        "POSTGRES_IMAGE": STAND_INS["postgres"],
        "REDIS_IMAGE": STAND_INS["redis"],
        "CADDY_IMAGE": STAND_INS["caddy"],
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": ports["POSTGRES"],
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": ports["REDIS"],
        "REPLICA_A_PORT": ports["A"],
        "REPLICA_B_PORT": ports["B"],
        "REPLICA_A_ADDRESS": f"127.0.0.1:{ports['A']}",
        "REPLICA_B_ADDRESS": f"127.0.0.1:{ports['B']}",
        "PROXY_PORT": ports["PROXY"],
    }


def compose(settings: dict[str, str], *args: str) -> None:
    podman_args = " ".join(PODMAN[1:])
    subprocess.run(
        [str(Path(sys.executable).with_name("podman-compose")), "--podman-args", podman_args,
         "-p", PROJECT, *COMPOSE, *args],
        env={**podman_env(), **settings},
        check=True,
    )  # fmt: skip


@contextmanager
def stack(settings: dict[str, str]) -> Iterator[None]:
    compose(settings, "up", "--detach", "--no-build")
    try:
        yield
    except BaseException:
        for service in ("ccflare-a", "ccflare-b", "proxy"):
            print(f"--- {service} ---\n" + podman("logs", container(service), check=False))
        raise
    finally:
        compose(settings, "down", "--volumes", "--timeout", "40")


def container(service: str) -> str:
    return f"{PROJECT}_{service}_1"


def wait_ok(url: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url}/health did not answer 200 within 180 s")


def manage(*args: str, stdin: str | None = None) -> str:
    exec_args = ["exec", *(["--interactive"] if stdin else []), container("ccflare-a")]
    return podman(*exec_args, "python", "manage.py", *args, input=stdin)


def post(url: str) -> httpx.Response:
    response = httpx.post(f"{url}/v1/messages", json=MESSAGE, headers=CLIENT, timeout=30)
    assert response.status_code == 200, response.text
    return response


def access_log_count(service: str) -> int:
    return podman("logs", container(service)).count('"POST /v1/messages"')


def upstream_keys(upstream: str) -> list[str]:
    log = httpx.get(f"{upstream}/_fake/log").json()
    return [
        value
        for entry in log
        if entry["path"] == "/v1/messages"
        for name, value in entry["headers"]
        if name == "x-api-key"
    ]


def check_both_replicas_serve(front: str) -> None:
    """Through the one address: Caddy spreads the requests over both replicas."""
    before = {s: access_log_count(s) for s in ("ccflare-a", "ccflare-b")}
    for _ in range(6):
        post(front)
    served = {s: access_log_count(s) - before[s] for s in before}
    assert all(served.values()) and sum(served.values()) == 6, served


def check_shared_session(front: str, replica_b: str, upstream: str) -> None:
    """The session beta took holds on both replicas, though alpha is now first in order."""
    wait_session_saved("beta")
    manage("add_account", "alpha", "--api-key", "-", stdin=KEY_ALPHA + "\n")
    manage("set_priority", "alpha", "-1")  # a new session would start on alpha...
    httpx.post(f"{upstream}/_fake/reset").raise_for_status()
    post(replica_b)  # ...but both replicas find beta's live session in the database
    post(front)
    post(front)
    assert upstream_keys(upstream) == [KEY_BETA] * 3, upstream_keys(upstream)


def wait_session_saved(name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (holders := session_holders()) == name:
            return
        time.sleep(0.2)
    raise AssertionError(f"the session holder saved is {holders!r}, not {name!r}")


def session_holders() -> str:
    code = (
        "from accounts.models import Account;"
        "print(','.join(a.name for a in Account.objects.filter(holds_session=True)))"
    )
    # The last line: Django's shell first says how many names it imported.
    return manage("shell", "-c", code).strip().splitlines()[-1]


def check_shared_live_feed(replica_a: str, replica_b: str) -> None:
    """A live stream held by replica A is told of a request replica B served."""
    token = manage("create_api_token", "stack-test").strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{replica_a}/api/requests/stream"
    with httpx.stream("GET", url, headers=headers, timeout=30) as live:
        lines = live.iter_lines()
        assert next(lines) == "event: connected"
        post(replica_b)  # the only request while the stream is open
        for line in lines:
            if line.startswith("data: ") and '"summary"' in line:
                row = json.loads(line.removeprefix("data: "))["payload"]
                assert row["path"] == "/v1/messages" and row["statusCode"] == 200, row
                return
    raise AssertionError("replica A's live stream never reported replica B's request")


def main() -> None:
    timed("base image", ensure_base_image)
    timed("images (ccflare and the stand-ins)", build_images)
    with fake_upstream() as upstream, tempfile_path() as env_file:
        settings = stack_settings(upstream, env_file)
        front = f"http://127.0.0.1:{settings['PROXY_PORT']}"
        replica_a = f"http://127.0.0.1:{settings['REPLICA_A_PORT']}"
        replica_b = f"http://127.0.0.1:{settings['REPLICA_B_PORT']}"
        with stack(settings):
            timed("stack up", lambda: [wait_ok(u) for u in (replica_a, replica_b, front)])
            manage("add_account", "beta", "--api-key", "-", stdin=KEY_BETA + "\n")
            for replica in (replica_a, replica_b):
                servers.wait_accounts(replica, 1)
            timed("both replicas serve", lambda: check_both_replicas_serve(front))
            timed("one session", lambda: check_shared_session(front, replica_b, upstream))
            timed("one live feed", lambda: check_shared_live_feed(replica_a, replica_b))
    print("stack-test: all checks passed", flush=True)


@contextmanager
def tempfile_path() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp) / "stack.env"


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, RuntimeError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"stack-test FAILED: {error}") from None
