"""`make image-test`: build the image with podman and check the running container.

    .venv/bin/python -m tests.deploy.image_check

Builds the Debian base (once) and the image from the project's Dockerfile, then runs it
against the fake upstream on this host (the container shares the host's network) and
checks: /health and the HEALTHCHECK, a non-root server, a proxied request with an account
added by a management command, the data kept across a container stop and start, and a
SIGTERM (`podman stop`) that lets a streaming request finish before the container exits 0.
Exits non-zero with the reason on the first failed check.
"""

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests import servers
from tests.deploy.podman import IMAGE, build, ensure_base_image, podman, timed

NAME = "ccflare-image-test"
VOLUME = "ccflare-image-test-data"
KEY = "sk-ant-api03-image-test-account-key-0001"
MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
CLIENT = {"x-api-key": "client-own-key", "anthropic-version": "2023-06-01"}


@contextmanager
def fake_upstream() -> Iterator[str]:
    process, port = servers.start_fake_upstream()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        servers.stop(process)


def remove_leftovers() -> None:
    podman("rm", "--force", "--time", "0", NAME, check=False)
    podman("volume", "rm", "--force", VOLUME, check=False)


def run_container(port: int, upstream: str) -> None:
    podman(
        "run", "--detach", "--name", NAME, "--network", "host",
        "--volume", f"{VOLUME}:/data",
        "--env", f"PORT={port}",
        "--env", f"UPSTREAM_BASE_URL={upstream}",
        "--env", "DJANGO_SUPERUSER_USERNAME=admin",
        "--env", "DJANGO_SUPERUSER_PASSWORD=image-test-admin-password",
        "--env", "SHUTDOWN_DRAIN_SECONDS=20",
        "--env", "USAGE_POLL_SECONDS=0",
        IMAGE,
    )  # fmt: skip


def wait_healthy(url: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/health", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        if podman("inspect", "--format", "{{.State.Running}}", NAME).strip() != "true":
            raise AssertionError("container exited:\n" + podman("logs", NAME))
        time.sleep(0.5)
    raise AssertionError(f"{url}/health did not answer 200 in 120 s:\n" + podman("logs", NAME))


def check_running(url: str) -> None:
    health = wait_healthy(url)
    assert health["status"] == "ok", health
    podman("healthcheck", "run", NAME)  # raises unless the HEALTHCHECK passes
    uid = podman("exec", NAME, "id", "-u").strip()
    assert uid != "0", "the server runs as root"


def check_proxied_request(url: str, upstream: str) -> None:
    podman(
        "exec", "--interactive", NAME,
        "python", "manage.py", "add_account", "work", "--api-key", "-",
        input=KEY + "\n",
    )  # fmt: skip
    servers.wait_accounts(url, 1)
    response = httpx.post(f"{url}/v1/messages", json=MESSAGE, headers=CLIENT, timeout=30)
    assert response.status_code == 200, response.text
    sent = [e for e in httpx.get(f"{upstream}/_fake/log").json() if e["path"] == "/v1/messages"]
    keys = [v for name, v in sent[-1]["headers"] if name.lower() == "x-api-key"]
    assert keys == [KEY], f"the upstream got {keys}, not the account's key"


def check_data_kept(url: str) -> None:
    podman("stop", "--time", "30", NAME)
    podman("start", NAME)
    health = wait_healthy(url)
    assert health["accounts"] == 1, f"the account did not survive a restart: {health}"
    rows = podman("exec", NAME, "python", "manage.py", "list_accounts")
    assert "work" in rows, rows


def check_sigterm_drains(url: str, upstream: str) -> None:
    """A stream in flight when `podman stop` sends SIGTERM still ends with message_stop."""
    headers = {**CLIENT, "x-fake-scenario": "gated_stream;gate=drain;events=1"}
    stopped: list[str] = []
    with httpx.stream(
        "POST", f"{url}/v1/messages", json={**MESSAGE, "stream": True}, headers=headers, timeout=60
    ) as response:
        chunks = response.iter_raw()
        received = next(chunks)
        stopper = threading.Thread(
            target=lambda: stopped.append(podman("stop", "--time", "40", NAME))
        )
        stopper.start()
        wait_refused(url)
        httpx.post(f"{upstream}/_fake/gates/drain").raise_for_status()
        received += b"".join(chunks)
    stopper.join()
    assert received.endswith(b'data: {"type":"message_stop"}\n\n'), received[-200:]
    code = podman("inspect", "--format", "{{.State.ExitCode}}", NAME).strip()
    assert code == "0", f"exit code {code} after SIGTERM:\n" + podman("logs", NAME)


def wait_refused(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/health", timeout=1)
        except httpx.ConnectError:
            return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server kept accepting connections after SIGTERM")


def main() -> None:
    timed("base image", ensure_base_image)
    timed("image build", lambda: build(IMAGE))
    remove_leftovers()
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        with fake_upstream() as upstream:
            timed("start and /health", lambda: (run_container(port, upstream), check_running(url)))
            timed("proxied request", lambda: check_proxied_request(url, upstream))
            timed("stop, start, data kept", lambda: check_data_kept(url))
            timed("SIGTERM drains", lambda: check_sigterm_drains(url, upstream))
    except BaseException:
        print(podman("logs", NAME, check=False))
        raise
    finally:
        remove_leftovers()
    print("image-test: all checks passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, RuntimeError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"image-test FAILED: {error}") from None
