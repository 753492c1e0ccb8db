"""bench/bench.py's CpuMeter and throughput turns, on real processes."""

import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import servers

_spec = importlib.util.spec_from_file_location(
    "bench_script", Path(__file__).resolve().parents[1] / "bench" / "bench.py"
)
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

pytestmark = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads Linux /proc")


def test_a_busy_server_with_workers_and_an_idle_upstream_are_told_apart() -> None:
    # A "server" whose child spins, and an "upstream" that sleeps.
    spin = "import subprocess,sys; subprocess.run([sys.executable,'-c','while 1: pass'])"
    server = subprocess.Popen([sys.executable, "-c", spin])
    upstream = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.5)  # the spinning child has started
        with bench.CpuMeter(server.pid, upstream.pid) as meter:
            time.sleep(1.0)
    finally:
        for child in bench._children(server.pid):
            subprocess.run(["kill", str(child)], check=False)
        server.kill()
        upstream.kill()

    shares = meter.shares
    assert shares is not None
    # Whatever else the machine does, a spinning process gets a good part of a core; the
    # sleeper and this waiting client get next to nothing.
    assert shares["server"] > 10
    assert shares["fake upstream"] < 5 and shares["client"] < 20
    assert 0 <= shares["machine idle"] <= 100 * shares["machine cores"]


def test_a_process_gone_mid_measurement_gives_no_figure() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    with bench.CpuMeter(gone.pid, None) as meter:
        gone.wait()
    assert meter.shares is None


def test_two_workers_are_judged_on_the_two_worker_throughput_target() -> None:
    # Issue 17: 18% of the direct path in one process, 30% with two workers; the memory
    # peak's 120 MB is one process's (the workers' processes add up).
    direct = {"latency_p50_ms": 0.1, "latency_p99_ms": 0.2, "ttfb_p50_ms": 0.1,
              "stream_total_ms": 200.0, "rps": 24_000.0, "errors": 0}  # fmt: skip
    proxy = {**direct, "rps": 6_000.0, "memory": {"per_stream_kb": 25.0, "peak_mb": 230.0}}

    def verdicts(workers: int) -> dict[str, tuple[float, bool]]:
        judged = bench.checks(direct, proxy, workers=workers)
        return {check.key: (check.limit, check.passed) for check in judged}

    assert verdicts(1)["rps"] == (18, True) and verdicts(1)["peak_mb"] == (120, False)
    assert verdicts(2)["rps"] == (30, False) and "peak_mb" not in verdicts(2)


def test_the_paths_take_turns_and_each_is_the_mean_of_its_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Measured a minute apart, the two paths met a machine a third faster or slower: the
    # throughput rounds alternate, and a round starts once the servers are quiet.
    fake, port = servers.start_fake_upstream(log=False)
    order: list[str] = []
    measure = bench.throughput

    async def recorded(target: Any, **kwargs: Any) -> tuple[float, int]:
        order.append(target.name)
        return await measure(target, **kwargs)

    monkeypatch.setattr(bench, "throughput", recorded)
    direct, proxy = (bench.Target(name, "127.0.0.1", port) for name in ("direct", "proxy"))
    plan = bench.Plan(concurrency=2, throughput_seconds=0.8, throughput_rounds=4)
    try:
        turns = asyncio.run(bench.throughput_in_turns([direct, proxy], plan, fake.pid))
    finally:
        servers.stop(fake)

    assert order == ["direct", "proxy", "proxy", "direct"] * 2
    for figures in turns.values():
        assert len(figures["rps_rounds"]) == 4 and figures["errors"] == 0
        assert figures["rps"] == round(statistics.mean(figures["rps_rounds"]), 1) > 0
        assert figures["cpu"]["machine cores"] == os.cpu_count()
        assert figures["cpu"]["fake upstream"] > 0


def test_the_timed_requests_are_taken_in_blocks_in_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    fake, port = servers.start_fake_upstream(log=False)
    blocks: list[tuple[str, int]] = []
    send = bench._one_after_another

    async def recorded(client: Any, raw: bytes, count: int, *args: Any) -> None:
        blocks.append((client.target.name, count))
        await send(client, raw, count, *args)

    monkeypatch.setattr(bench, "_one_after_another", recorded)
    direct, proxy = (bench.Target(name, "127.0.0.1", port) for name in ("direct", "proxy"))
    try:
        samples = asyncio.run(
            bench.sequential_in_turns(
                [direct, proxy], bench.Target.raw, 10, lambda r: r.finished - r.started, 4
            )
        )
    finally:
        servers.stop(fake)

    names = ["direct", "proxy", "proxy", "direct"] * 2
    assert blocks == list(zip(names, [2, 2, 2, 2, 2, 2, 4, 4], strict=True))
    assert {name: len(s.values_ms) for name, s in samples.items()} == {"direct": 10, "proxy": 10}
    assert all(s.errors == 0 for s in samples.values())
