"""Start and stop the real server processes that end-to-end tests and the benchmark talk to.

Plain functions, no pytest fixtures, so the benchmark script can use them too:

    process, port = start_fake_upstream()          # python -m tests.fake_upstream --port 0
    process, port = start_proxy_server(env={...})  # daphne ccflare_site.asgi:application
    stop(process)
"""

import contextlib
import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# daphne's command line as the project starts it (serve.py): on the configured event loop.
DAPHNE = [sys.executable, "-m", "ccflare_site.daphne_main"]
_PR_SET_PDEATHSIG = 1


# Debian's Chromium, as browser tests and the dashboard benchmark drive it. The flags keep
# it from reaching the network (closed here) and from needing a sandbox or a GPU.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# What a server process keeps from the caller's environment: enough to run Python, nothing
# that configures ccflare or routes traffic (PORT, LOG_LEVEL, OAUTH_*, HTTP_PROXY, ...).
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")


def server_env(env: dict[str, str]) -> dict[str, str]:
    """The whole environment of a server process: the basics, ccflare's settings module,
    `.env` ignored, then `env` (DATA_DIR, UPSTREAM_BASE_URL, ...)."""
    base = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "ccflare_site.settings",
        "CCFLARE_IGNORE_DOTENV": "1",
        **env,
    }


class ServerDidNotStart(RuntimeError):
    """The process exited or stayed silent before it was ready to serve."""


def _die_with_parent() -> None:
    # A killed test run or benchmark must not leave servers behind holding ports (Linux only).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_fake_upstream(
    *, log: bool = True, host: str = "127.0.0.1", port: int = 0, timeout: float = 15.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Start tests/fake_upstream.py on `port` (0: a free one); returns the process and its port.

    `log=False` passes --no-log (benchmarks). Raises ServerDidNotStart if it does not print
    `READY <port>` within `timeout` seconds. stderr is inherited, so its errors show in test output.
    """
    args = [sys.executable, "-m", "tests.fake_upstream", "--host", host, "--port", str(port)]
    process = subprocess.Popen(
        [*args, *([] if log else ["--no-log"])],
        cwd=PROJECT_ROOT,
        env=server_env({}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    try:
        return process, _read_ready_port(process, timeout=timeout)
    except BaseException:
        stop(process)
        raise


def _read_ready_port(process: subprocess.Popen[bytes], *, timeout: float) -> int:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([process.stdout], [], [], remaining)
        if not readable:
            break
        line = process.stdout.readline()
        if not line:
            raise ServerDidNotStart(f"fake upstream exited with code {process.wait()}")
        if line.startswith(b"READY "):
            return int(line.split()[1])
    raise ServerDidNotStart(f"fake upstream printed no READY line within {timeout} s")


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now; another process may take it before we bind, which is rare enough."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_proxy_server(
    *,
    env: dict[str, str],
    host: str = "127.0.0.1",
    output: IO[bytes] | None = None,
    timeout: float = 30.0,
    port: int | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start daphne serving the project's ASGI app; returns once /health answers 200.

    `env` completes the explicit environment of server_env (DATA_DIR, UPSTREAM_BASE_URL, ...); the
    caller's own environment and `.env` do not reach the server. The server's
    stdout and stderr go to `output` (inherited when None). `port`: a given one (a server
    started again where clients expect it), else a free one. Raises ServerDidNotStart on failure.
    """
    port = port or free_port(host)
    argv = [*DAPHNE, "-b", host, "-p", str(port), "ccflare_site.asgi:application"]
    return _start_server(
        argv, env=env, url=f"http://{host}:{port}", output=output, timeout=timeout
    ), port


def _start_server(
    argv: list[str], *, env: dict[str, str], url: str, output: IO[bytes] | None, timeout: float
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        argv,
        cwd=PROJECT_ROOT,
        env=server_env(env),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        preexec_fn=_die_with_parent,
    )
    try:
        wait_until_ok(f"{url}/health", process=process, timeout=timeout)
    except BaseException:
        stop(process)
        raise
    return process


def start_served(
    *,
    env: dict[str, str],
    host: str = "127.0.0.1",
    output: IO[bytes] | None = None,
    timeout: float = 30.0,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start the real entry point, `python -m ccflare_site.serve`, on HOST/PORT from here.

    Like start_proxy_server (same environment, same readiness check), but through
    serve.py, so settings such as WORKERS take effect as under `make run`.
    """
    port = free_port(host)
    argv = [sys.executable, "-m", "ccflare_site.serve"]
    env = {**env, "HOST": host, "PORT": str(port)}
    return _start_server(
        argv, env=env, url=f"http://{host}:{port}", output=output, timeout=timeout
    ), port


def wait_until_ok(url: str, *, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll `url` until it answers 200; raises ServerDidNotStart if `process` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(f"server exited with code {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            # 503: up, with no account able to serve (a test may have paused them all).
            if httpx.get(url, timeout=2.0).status_code in (200, 503):
                return
        time.sleep(0.1)
    raise ServerDidNotStart(f"{url} did not answer 200 within {timeout} s")


def wait_accounts(url: str, count: int) -> None:
    """Until the server's account snapshot (what /health and the proxy read) holds `count`.

    An account another process added (`manage.py add_account`) reaches it within
    ACCOUNT_CACHE_SECONDS; a request sooner still passes through with no account.
    """
    deadline = time.monotonic() + 10
    while (seen := httpx.get(f"{url}/health", timeout=2).json()["accounts"]) != count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}/health still counts {seen} accounts, not {count}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes], *, timeout: float = 5.0) -> None:
    """Terminate `process` (SIGTERM, then SIGKILL after `timeout` s) and reap it; idempotent."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
