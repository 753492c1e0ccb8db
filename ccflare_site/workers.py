"""`WORKERS=N`: N daphne processes serving one port, and what they share.

This parent binds HOST:PORT once per worker with SO_REUSEPORT and starts N daphne
children with `--fd`, one socket each, so the kernel spreads new connections evenly
over them (docs/deployment.md, "Several workers"). One socket shared by all let
whichever worker woke first accept a whole burst: measured, one worker took all 32
keep-alive connections of the benchmark and the other sat idle. It also:

- runs the live-event hub (lib/live_hub.py) the children publish through, so a
  dashboard on one worker sees every worker's requests without Redis;
- gives them one fresh PROMETHEUS_MULTIPROC_DIR, so /metrics sums over workers;
- gives them one start id (settings.START_ID), so a live client that reconnects to
  another worker of the same start keeps the rows of requests still running;
- forwards SIGTERM/SIGINT, and SIGHUP as SIGTERM (each child drains its requests,
  then exits), and starts a child again when it dies on its own.

Everything else they share lives in the database: the accounts' state and sticky
session (each worker's pool snapshot reloads every ACCOUNT_CACHE_SECONDS), the
token-refresh lease, the client keys.
"""

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ccflare_site.tuning import LISTEN_BACKLOG
from lib import live_hub

# A child that died this soon after starting waits this long before the next try,
# so a worker that cannot start (a bad setting) does not spin the CPU.
RESTART_DELAY_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1
# Set in each worker's environment: the pid of the parent it must not outlive.
SUPERVISOR_PID = "CCFLARE_SUPERVISOR_PID"
# The supervisor's own folder in the temporary directory, and its live hub's socket there.
RUNTIME_PREFIX = "ccflare-"
HUB_SOCKET = "live-hub.sock"


def claim_port(host: str, port: int) -> None:
    """Fail at once if HOST:PORT is taken, before the workers' sockets join it.

    SO_REUSEPORT would let a second server of the same user join a port silently and take
    half its connections; a plain bind cannot, so it is tried first (and let go).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise SystemExit(f"ccflare: cannot listen on {host}:{port}: {exc.strerror}") from None


def listening_socket(host: str, port: int) -> socket.socket:
    """One worker's socket on HOST:PORT; every worker's is bound the same way."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # A restart must not wait for the previous run's connections in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Several sockets on one port, the kernel balancing connections over them.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def sweep_dead_runtimes(folder: Path) -> None:
    """Remove what supervisors killed outright (SIGKILL, OOM) left in `folder`.

    Such a supervisor leaves its runtime folder behind, one per crash. A folder of ours
    whose hub socket takes no connection belongs to no running server; one that does, or
    that has no socket yet (a supervisor starting), is left alone.
    """
    for runtime in folder.glob(f"{RUNTIME_PREFIX}*"):
        hub = runtime / HUB_SOCKET
        try:
            if runtime.lstat().st_uid != os.getuid() or not hub.is_socket():
                continue
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(str(hub))
        except ConnectionRefusedError:
            shutil.rmtree(runtime, ignore_errors=True)
        except OSError:
            continue


def fresh_metrics_dir(data_dir: Path) -> Path:
    """DATA_DIR/prometheus, emptied: counters start at zero with each server run."""
    path = data_dir / "prometheus"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    return path


def start_hub(path: str) -> None:
    """Serve the live-event hub on a daemon thread for as long as this process lives.

    Returns once it listens, so the first worker to publish finds it.
    """
    listening = threading.Event()

    async def serve() -> None:
        server = await live_hub.serve_hub(path)
        listening.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=asyncio.run, args=(serve(),), name="live-hub", daemon=True).start()
    listening.wait()


def follow_supervisor() -> None:
    """In a worker (called as the app loads): get SIGTERM when the supervisor dies.

    A supervisor killed outright (SIGKILL) must not leave its workers serving. Set here
    rather than by a preexec_fn in spawn(): forking with a callback is unsafe while the
    hub's thread runs. A supervisor that died before this ran is noticed by the pid check.
    """
    supervisor = os.environ.get(SUPERVISOR_PID)
    if not supervisor:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(supervisor):
        raise SystemExit("ccflare: the supervisor is gone; not serving")


class Supervisor:
    def __init__(self, *, socks: list[socket.socket], env: dict[str, str]) -> None:
        # One socket per worker slot, kept here: a replacement worker takes over its
        # slot's socket, and the connections queued on it meanwhile.
        self.socks = socks
        self.env = env
        self.children: dict[int, tuple[subprocess.Popen[bytes], float, int]] = {}
        self.stopping = False
        self.stop_signal: int = signal.SIGTERM

    def spawn(self, slot: int) -> None:
        if self.stopping:
            return  # its socket is closed
        fd = self.socks[slot].fileno()
        daphne = [sys.executable, "-m", "ccflare_site.daphne_main"]
        process = subprocess.Popen(
            [*daphne, "--fd", str(fd), "ccflare_site.asgi:application"],
            env={**self.env, SUPERVISOR_PID: str(os.getpid())},
            pass_fds=(fd,),
            # Their own process group: a Ctrl-C in the terminal reaches the parent alone,
            # which passes it on once (daphne takes a second SIGINT as "stop now").
            process_group=0,
        )
        self.children[process.pid] = (process, time.monotonic(), slot)
        if self.stopping:
            # The signal came while Popen ran (its handler runs there too), before this
            # worker was among the children: pass it on now, or it serves on unstopped.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(self.stop_signal)

    def stop(self, signum: int, _frame: object) -> None:
        """Pass the signal on (a hang-up as SIGTERM); stop accepting here so only the
        children's copies remain."""
        signum = signal.SIGTERM if signum == signal.SIGHUP else signum
        self.stopping, self.stop_signal = True, signum
        for sock in self.socks:
            with contextlib.suppress(OSError):
                sock.close()
        for process, _started, _slot in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    def run(self) -> int:
        for slot in range(len(self.socks)):
            self.spawn(slot)
        while self.children:
            pid, status = os.wait()
            entry = self.children.pop(pid, None)
            if entry is None or self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            print(f"ccflare: worker {pid} exited ({code}); starting another", flush=True)
            if time.monotonic() - entry[1] < RESTART_DELAY_SECONDS * 5:
                time.sleep(RESTART_DELAY_SECONDS)
            if not self.stopping:
                self.spawn(entry[2])
        return 0


def serve(*, count: int, host: str, port: int, data_dir: Path, start_id: str) -> int:
    """Serve with `count` daphne workers until SIGTERM/SIGINT/SIGHUP; returns the exit code.

    `start_id` (settings.START_ID) is given to every worker, replacements included.
    """
    claim_port(host, port)
    socks = [listening_socket(host, port) for _ in range(count)]
    sweep_dead_runtimes(Path(tempfile.gettempdir()))
    runtime = Path(tempfile.mkdtemp(prefix=RUNTIME_PREFIX))
    hub_path = str(runtime / HUB_SOCKET)
    try:
        start_hub(hub_path)
        env = {
            **os.environ,
            "CCFLARE_LIVE_HUB": hub_path,
            "CCFLARE_START_ID": start_id,
            "PROMETHEUS_MULTIPROC_DIR": str(fresh_metrics_dir(data_dir)),
        }
        supervisor = Supervisor(socks=socks, env=env)
        stops = [signal.SIGTERM, signal.SIGINT]
        # SIGHUP too (but not under `nohup`): closing the terminal that runs `make run`
        # sends it, and its default ended this parent at once, its workers left to drain
        # on their own (PDEATHSIG) while the port and the live hub went with it.
        if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
            stops.append(signal.SIGHUP)
        for signum in stops:
            signal.signal(signum, supervisor.stop)
        return supervisor.run()
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
