"""What a crash under load loses: requests the client saw finish that never reached the database.

    .venv/bin/python bench/crash_window.py [--runs 3] [--seconds 6] [--concurrency 32]

Each run:
1. starts the fake upstream and a real daphne on a fresh SQLite DATA_DIR (as bench/bench.py);
2. drives non-streaming `POST /v1/messages` at `--concurrency` (32: `make bench`'s throughput
   test, the highest load the proxy reaches), one keep-alive connection per worker, each
   request's body carrying a unique marker (`metadata.user_id`);
3. after `--seconds` kills daphne with SIGKILL while the load is still running;
4. reads the captured request bodies from the database and compares their markers with the
   requests whose full reply the client had received.

Per run it prints the rate, the finished requests, the finished-but-lost ones, and the window:
how long before the kill the oldest lost request had finished. Then the medians.
Writes nothing to the repository.
"""

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import bench  # bench/bench.py: this script's directory is first on sys.path
from tests import servers  # bench put the project root on the path

MARKER = re.compile(rb"crash-(\d+)")


@dataclass
class Load:
    """What the client saw: when each marked request finished (epoch seconds)."""

    finished_at: dict[int, float] = field(default_factory=dict)
    started: float = 0.0
    killed_at: float = 0.0


@dataclass(frozen=True)
class Outcome:
    rate: float  # finished requests per second of load
    finished: int
    lost: int
    window_ms: float  # kill time minus the finish time of the oldest lost request


def raw_request(target: bench.Target, number: int) -> bytes:
    body = json.dumps({**bench.MESSAGE, "metadata": {"user_id": f"crash-{number}"}}).encode()
    head = (
        "POST /v1/messages HTTP/1.1\r\n"
        f"Host: {target.host}:{target.port}\r\n"
        "Content-Type: application/json\r\n"
        f"x-api-key: {bench.CLIENT_KEY}\r\n"
        "anthropic-version: 2023-06-01\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def load_then_kill(target: bench.Target, *, concurrency: int, seconds: float) -> Load:
    """Keep `concurrency` requests in flight; SIGKILL the server after `seconds`."""
    load, numbers = Load(), iter(range(1, 10**9))
    killed = asyncio.Event()

    async def work(client: bench.Client) -> None:
        while not killed.is_set():
            number = next(numbers)
            try:
                reply = await client.send(raw_request(target, number))
            except OSError:
                return  # the server is gone
            if reply.status == 200:
                load.finished_at[number] = time.time()

    clients = [bench.Client(target) for _ in range(concurrency)]
    load.started = time.time()
    workers = [asyncio.create_task(work(client)) for client in clients]
    await asyncio.sleep(seconds)
    load.killed_at = time.time()
    os.kill(target.pid, signal.SIGKILL)
    killed.set()
    await asyncio.wait(workers, timeout=10)
    for client in clients:
        client.close()
    return load


def recorded_markers(database: Path) -> set[int]:
    """Markers of the requests whose payload row reached the database."""
    found = set()
    with contextlib.closing(sqlite3.connect(database)) as db:
        for (data,) in db.execute("SELECT data FROM analytics_requestpayload"):
            body = json.loads(data)["request"]["body"] or ""
            if match := MARKER.search(base64.b64decode(body)):
                found.add(int(match.group(1)))
    return found


def judge(load: Load, recorded: set[int]) -> Outcome:
    lost = [when for number, when in load.finished_at.items() if number not in recorded]
    window = (load.killed_at - min(lost)) * 1000 if lost else 0.0
    return Outcome(
        rate=len(load.finished_at) / (load.killed_at - load.started),
        finished=len(load.finished_at),
        lost=len(lost),
        window_ms=window,
    )


def one_run(fake_port: int, args: argparse.Namespace) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="ccflare-crash-") as work_dir:
        target = bench.start_proxy(fake_port=fake_port, work_dir=Path(work_dir), notes=[])
        assert target.process is not None
        try:
            load = asyncio.run(
                load_then_kill(target, concurrency=args.concurrency, seconds=args.seconds)
            )
        finally:
            servers.stop(target.process)
        return judge(load, recorded_markers(Path(work_dir) / "ccflare.db"))


def report(outcome: Outcome, label: str) -> str:
    return (
        f"{label:>8}: {outcome.rate:6.0f} req/s, {outcome.finished:6d} finished, "
        f"{outcome.lost:5d} finished-but-lost, window {outcome.window_ms:6.0f} ms"
    )


def median_outcome(outcomes: list[Outcome]) -> Outcome:
    return Outcome(
        rate=statistics.median(o.rate for o in outcomes),
        finished=int(statistics.median(o.finished for o in outcomes)),
        lost=int(statistics.median(o.lost for o in outcomes)),
        window_ms=statistics.median(o.window_ms for o in outcomes),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0, help="load before the kill")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    bench.raise_open_files_limit()
    fake, fake_port = servers.start_fake_upstream(log=False)
    outcomes = []
    try:
        for run in range(1, args.runs + 1):
            outcomes.append(one_run(fake_port, args))
            print(report(outcomes[-1], f"run {run}"), flush=True)
    finally:
        servers.stop(fake)
    print(report(median_outcome(outcomes), "median"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
