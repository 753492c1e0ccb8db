"""The WORKERS=N supervisor's bookkeeping (ccflare_site/workers.py), with stand-in processes.

Real workers are started in tests/deploy/test_workers_e2e.py; a signal arriving at one
exact moment cannot be timed there, so here it is delivered from inside the start.
"""

import itertools
import signal
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ccflare_site import workers

_pids = itertools.count(1000)


class StandIn:
    """What the supervisor uses of a started worker: its pid and the signals sent to it."""

    def __init__(self) -> None:
        self.pid = next(_pids)
        self.signals: list[int] = []

    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    socks = [socket.socket(), socket.socket()]
    yield socks
    for sock in socks:
        sock.close()


def test_a_stop_that_arrives_while_a_worker_starts_reaches_that_worker_too(
    monkeypatch: pytest.MonkeyPatch, sockets: list[socket.socket]
) -> None:
    # Python runs the signal handler wherever the main thread is, also inside Popen after
    # the fork: the new worker was not among the children yet, got no SIGTERM, and served
    # on while the supervisor waited for it for ever (until systemd's or docker's SIGKILL).
    supervisor = workers.Supervisor(socks=sockets, env={})
    started: list[StandIn] = []

    def popen(_argv: list[str], **_options: Any) -> StandIn:
        started.append(StandIn())
        if len(started) == 1:
            supervisor.stop(signal.SIGTERM, None)
        return started[-1]

    monkeypatch.setattr(workers.subprocess, "Popen", popen)

    supervisor.spawn(0)
    supervisor.spawn(1)  # as the start-up loop would next: stopping, so none is started

    assert [process.signals for process in started] == [[signal.SIGTERM]]


def test_a_runtime_folder_left_by_a_killed_supervisor_is_swept_and_no_other(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("sw")  # short: a socket's path has at most 107 bytes
    for name in ("ccflare-dead", "ccflare-live", "ccflare-new", "other-dead"):
        (folder / name).mkdir()
    for name in ("ccflare-dead", "other-dead"):
        # As a killed supervisor's hub leaves it: the socket's file, nobody listening.
        with socket.socket(socket.AF_UNIX) as gone:
            gone.bind(str(folder / name / workers.HUB_SOCKET))
    with socket.socket(socket.AF_UNIX) as serving:
        serving.bind(str(folder / "ccflare-live" / workers.HUB_SOCKET))
        serving.listen()

        workers.sweep_dead_runtimes(folder)

    assert sorted(p.name for p in folder.iterdir()) == ["ccflare-live", "ccflare-new", "other-dead"]
