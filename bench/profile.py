"""Where the proxy's time goes: py-spy samples of a real daphne under load, by layer.

Starts the fake upstream and daphne as `make bench` does, drives `/v1/messages` at the
given concurrency, samples the server with py-spy (`--gil`: only the thread holding the
GIL, i.e. the Python CPU that competes for the one core a process can use) and prints the
share of samples per layer: the recorder's thread, the upstream client (lib/h1/), Twisted
(HTTP parsing and writing), daphne's ASGI glue, the asyncio loop, our own code. The table in
docs/performance.md comes from it. Run: `.venv/bin/python bench/profile.py [--concurrency 32]`.
"""

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench  # bench/bench.py: this script's directory is first on sys.path
from tests import servers  # bench put the project root on the path

# (layer, substrings of a frame's file) in the order they are looked for, innermost frame first.
LAYERS = (
    # uvloop sends at once, in the caller's frame: on loopback that syscall also delivers
    # to the fake upstream, so it is counted apart from the client's own Python.
    ("upstream client: the request's send syscall", ("Connection._send (lib/h1/",)),
    ("upstream client (lib/h1/)", ("(lib/h1/",)),
    # Nothing on the server's hot path uses them any more: a share here is a regression.
    ("aiohttp, yarl, multidict", ("(aiohttp/", "(yarl/", "(multidict/")),
    ("proxy code", ("(proxy/", "(agents/")),
    ("other app code", ("(analytics/", "(accounts/", "(access/", "(lib/")),
    ("Twisted (HTTP)", ("(twisted/",)),
    ("daphne and channels (ASGI glue)", ("(daphne/", "(channels/", "(ccflare_site/")),
    ("event loop", ("(asyncio/", "(selectors.py", "(uvloop/")),
)
RECORDER = "recorder thread (rows, SQLite, live events)"


def layer_of(stack: str) -> str:
    frames = stack.split(";")
    # The recorder's thread runs Recorder._write (flush_sync at shutdown).
    if any("Recorder._write" in frame or "Recorder.flush_sync" in frame for frame in frames):
        return RECORDER
    for frame in reversed(frames):
        for layer, marks in LAYERS:
            if any(mark in frame for mark in marks):
                return layer
    return "other"


def shares(raw: Path) -> list[tuple[str, float]]:
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            counts[layer_of(stack)] += int(count)
    total = sum(counts.values()) or 1
    return [(layer, 100 * n / total) for layer, n in counts.most_common()]


async def load(target: bench.Target, concurrency: int, seconds: float) -> float:
    if concurrency == 1:
        started, done = time.perf_counter(), 0
        while time.perf_counter() - started < seconds:
            done += len(
                (await bench.sequential(target, target.raw(), 100, lambda r: 0.0)).values_ms
            )
        return done / (time.perf_counter() - started)
    rps, _ = await bench.throughput(target, concurrency=concurrency, seconds=seconds)
    return rps


def profile(target: bench.Target, *, concurrency: int, seconds: float, out: Path) -> float:
    """Warm up, then load the server while py-spy samples it; returns the req/s reached."""
    asyncio.run(bench.sequential(target, target.raw(), 300, lambda r: 0.0))
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    spy = subprocess.Popen(
        [py_spy, "record", "-p", str(target.pid), "--gil", "--nonblocking", "-r", "200"]
        + ["-d", str(int(seconds)), "-f", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rps = asyncio.run(load(target, concurrency, seconds - 1))
    spy.wait()
    return rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw samples here")
    args = parser.parse_args()
    bench.raise_open_files_limit()
    fake, fake_port = servers.start_fake_upstream(log=False)
    with tempfile.TemporaryDirectory(prefix="ccflare-profile-") as work:
        target = bench.start_proxy(fake_port=fake_port, work_dir=Path(work), notes=[])
        out = Path(work) / "samples.txt"
        try:
            rps = profile(target, concurrency=args.concurrency, seconds=args.seconds, out=out)
            table = shares(out)
            if args.raw is not None:
                shutil.copyfile(out, args.raw)
        finally:
            assert target.process is not None
            servers.stop(target.process)
            servers.stop(fake)
    print(f"concurrency {args.concurrency}: {rps:,.0f} req/s while sampled")
    for layer, share in table:
        print(f"{share:5.1f}%  {layer}")


if __name__ == "__main__":
    main()
