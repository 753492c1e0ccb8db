"""The project's benchmark: what the proxy adds to latency, throughput, stream TTFB and memory.

One run starts the fake upstream (tests/fake_upstream.py) and daphne serving the project against
it, then measures the DIRECT path (client -> fake) and the PROXY path (client -> daphne -> fake)
with the same lean HTTP/1.1 client, prints a table with the targets (docs/performance.md) and
writes bench/results/latest.json. Run it with `make bench` or
`.venv/bin/python bench/bench.py [--quick]`.

To bench another proxy the same way (the original ccflare, say), start it with
`http://127.0.0.1:PORT` as its upstream and run
`bench/bench.py --upstream-port PORT --compare http://HOST:ITS_PORT [--compare-pid PID]`:
its figures get their own columns, against the same direct path, in the same run.
"""

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402  (the project root is only importable after the line above)

RESULTS_FILE = ROOT / "bench" / "results" / "latest.json"
ACCOUNT_KEY = "sk-ant-api03-bench-key"
CLIENT_KEY = "sk-ant-api03-bench-client"
PACED_STREAM = "slow_stream;events=20;interval_ms=10"
MESSAGE = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
}


@dataclass(frozen=True)
class Plan:
    """How much of each measurement one run does."""

    warmup_requests: int = 300
    latency_requests: int = 2000
    concurrency: int = 32
    throughput_seconds: float = 8.0  # per path, over all its rounds
    # The paths take turns in this many rounds (direct, proxy, then proxy, direct, ...): on a
    # shared machine the direct path alone moved from 5,000 to 9,200 req/s between runs
    # minutes apart, so each path's figure should come from the same stretch of time.
    throughput_rounds: int = 4
    ttfb_requests: int = 300
    streams: int = 500
    stream_events: int = 40
    stream_interval_ms: int = 250
    # Whole streams timed end to end, paced like a model writing (20 events 10 ms apart).
    stream_total_requests: int = 40
    budget_seconds: float = 300.0  # per path: a server that stops answering must not hang us


FULL = Plan()
QUICK = Plan(
    warmup_requests=100,
    latency_requests=300,
    throughput_seconds=2.0,
    throughput_rounds=2,
    ttfb_requests=60,
    streams=100,
    stream_events=12,
    stream_total_requests=10,
    budget_seconds=120.0,
)


# A lean HTTP/1.1 client --------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes
    started: float
    first_byte: float  # when the first body byte arrived (perf_counter)
    finished: float


def parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """Status, content length, chunked?, and whether the server closes the connection after."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = None, False, lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    return status, length, chunked, close


class Connection(asyncio.Protocol):
    """One keep-alive connection that sends one request at a time and times its reply.

    A hand-written protocol rather than a client library: the load generator shares two cores
    with the servers it measures, so it must cost as little as possible per request.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.arrived = 0.0
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> "Connection":
        _, connection = await asyncio.get_running_loop().create_connection(cls, host, port)
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.arrived = time.perf_counter()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _fill(self) -> None:
        if self.closed:
            raise ConnectionError("the server closed the connection mid-reply")
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter

    async def _take_until(self, marker: bytes) -> bytes:
        while (end := self.buffer.find(marker)) < 0:
            await self._fill()
        data = bytes(self.buffer[:end])
        del self.buffer[: end + len(marker)]
        return data

    async def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            await self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def _take_chunked(self) -> bytes:
        body = bytearray()
        while size := int((await self._take_until(b"\r\n")).split(b";")[0], 16):
            body += await self._take(size + 2)
            del body[-2:]
        await self._take_until(b"\r\n")  # the empty line after the last chunk (no trailers)
        return bytes(body)

    async def _take_rest(self) -> bytes:
        while not self.closed:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return bytes(self.buffer)

    async def request(self, raw: bytes) -> Reply:
        assert self.transport is not None
        started = time.perf_counter()
        self.transport.write(raw)
        status, length, chunked, close = parse_head(await self._take_until(b"\r\n\r\n"))
        if length != 0 and not self.buffer:
            await self._fill()
        first_byte = self.arrived
        if chunked:
            body = await self._take_chunked()
        else:
            body = await (self._take_rest() if length is None else self._take(length))
        if close:
            self.transport.close()
            self.closed = True
        return Reply(status, body, started, first_byte, time.perf_counter())


@dataclass(frozen=True)
class Target:
    """Where one path's requests go, and the server process behind it when we know it."""

    name: str
    host: str
    port: int
    pid: int | None = None  # the server process whose memory we watch (proxy only)
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)
    client_key: str = CLIENT_KEY

    def raw(self, *, stream: bool = False, scenario: str | None = None) -> bytes:
        body = json.dumps({**MESSAGE, "stream": stream}).encode()
        lines = [
            "POST /v1/messages HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            "Anthropic-Version: 2023-06-01",
            f"X-Api-Key: {self.client_key}",
            f"Content-Length: {len(body)}",
            *([f"X-Fake-Scenario: {scenario}"] if scenario else []),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Client:
    """A Connection to one target that reopens itself after a close or a failure."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.connection: Connection | None = None

    async def send(self, raw: bytes) -> Reply:
        if self.connection is None or self.connection.closed:
            self.connection = await Connection.open(self.target.host, self.target.port)
        try:
            return await self.connection.request(raw)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None and self.connection.transport is not None:
            self.connection.transport.close()
        self.connection = None


# Measurements ------------------------------------------------------------------------------


@dataclass
class Samples:
    values_ms: list[float] = field(default_factory=list)
    errors: int = 0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)] if ordered else math.nan


async def sequential(
    target: Target, raw: bytes, count: int, pick: Callable[[Reply], float]
) -> Samples:
    """`count` requests one after another on one connection; `pick` chooses what is timed."""
    samples, client = Samples(), Client(target)
    await _one_after_another(client, raw, count, pick, samples)
    client.close()
    return samples


async def _one_after_another(
    client: Client, raw: bytes, count: int, pick: Callable[[Reply], float], samples: Samples
) -> None:
    for _ in range(count):
        try:
            reply = await client.send(raw)
        except OSError:
            samples.errors += 1
            continue
        samples.errors += reply.status != 200
        samples.values_ms.append(pick(reply) * 1000)


async def sequential_in_turns(
    targets: list[Target],
    raw_of: Callable[[Target], bytes],
    count: int,
    pick: Callable[[Reply], float],
    turns: int,
    quiet_pids: list[int | None] | None = None,
) -> dict[str, Samples]:
    """`sequential` for each path, in `turns` blocks the paths take in turns (the order
    alternating), each path on one connection throughout: a path's figures then come from
    the same stretch of the machine's time as the other's. With `quiet_pids`, each block
    starts once those processes are quiet (a proxy's recorder writes after its block)."""
    clients = {target.name: Client(target) for target in targets}
    samples = {target.name: Samples() for target in targets}
    block = max(1, count // turns)
    for turn in range(turns):
        size = block if turn < turns - 1 else count - block * (turns - 1)
        for target in targets if turn % 2 == 0 else targets[::-1]:
            if quiet_pids:
                await quiet(quiet_pids)
            await _one_after_another(
                clients[target.name], raw_of(target), size, pick, samples[target.name]
            )
    for client in clients.values():
        client.close()
    return samples


async def throughput(target: Target, *, concurrency: int, seconds: float) -> tuple[float, int]:
    """Requests per second with `concurrency` workers, one connection each; also the errors."""
    raw, clients = target.raw(), [Client(target) for _ in range(concurrency)]
    await asyncio.gather(*(client.send(raw) for client in clients))  # connect before the clock
    started = time.perf_counter()
    deadline = started + seconds

    async def work(client: Client) -> tuple[int, int]:
        done = errors = 0
        while time.perf_counter() < deadline:
            try:
                errors += (await client.send(raw)).status != 200
            except OSError:
                errors += 1
            done += 1
        client.close()
        return done, errors

    counts = await asyncio.gather(*(work(client) for client in clients))
    elapsed = time.perf_counter() - started
    return sum(done for done, _ in counts) / elapsed, sum(errors for _, errors in counts)


def rss_mb(pid: int) -> float:
    """The resident memory of `pid` and its children (the workers, with --workers)."""
    return sum(_own_rss_mb(each) for each in (pid, *_children(pid)))


def _own_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


class CpuMeter:
    """CPU used during a measurement, in % of one core: the server (with its workers), the
    fake upstream, this client, and how idle the whole machine was (Linux /proc).

    It shows what limits a throughput figure: a server near 100% per process is bound by
    its own CPU, a machine with no idle left by everything on it together.
    """

    def __init__(self, server_pid: int | None, fake_pid: int | None) -> None:
        pids = {"server": server_pid, "fake upstream": fake_pid}
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}
        self.shares: dict[str, float] | None = None

    def __enter__(self) -> "CpuMeter":
        self.start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._read()
        if self.start is None or end is None:
            return  # not Linux, or a process is gone: no figure rather than a wrong one
        elapsed = end["wall"] - self.start["wall"]
        shares = {
            name: round(100 * (end[name] - self.start[name]) / elapsed, 1)
            for name in (*self.pids, "client")
        }
        ticks = end["ticks"] - self.start["ticks"]
        idle = end["idle"] - self.start["idle"]
        cores = os.cpu_count() or 1
        shares["machine idle"] = round(100 * cores * idle / ticks, 1) if ticks else 0.0
        shares["machine cores"] = cores
        self.shares = shares

    def _read(self) -> dict[str, float] | None:
        try:
            read = {
                name: sum(_cpu_seconds(each) for each in (pid, *_children(pid)))
                for name, pid in self.pids.items()
            }
            with open("/proc/stat") as stat:
                fields = [int(value) for value in stat.readline().split()[1:]]
        except (OSError, ValueError, IndexError):
            return None
        # idle + iowait over every kind of time the kernel counts.
        return {
            **read,
            "client": time.process_time(),
            "wall": time.perf_counter(),
            "idle": fields[3] + fields[4],
            "ticks": sum(fields[:8]),
        }


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def stream_memory(target: Target, plan: Plan) -> dict[str, Any]:
    """Hold `plan.streams` slow streams open at once and watch the server's RSS.

    1. Read the idle RSS (the caller has warmed the server up).
    2. Open the streams, staggered over about a second: a burst of connects would overflow
       the server's accept backlog and stall on SYN retries instead of measuring memory.
    3. Sample RSS every 50 ms until every stream has ended; the peak minus idle, divided by
       the number of streams, is the per-stream cost.
    """
    assert target.pid is not None
    scenario = f"slow_stream;events={plan.stream_events};interval_ms={plan.stream_interval_ms}"
    raw, idle = target.raw(stream=True, scenario=scenario), rss_mb(target.pid)
    peak, finished = idle, asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not finished.is_set():
            peak = max(peak, rss_mb(target.pid))
            await asyncio.sleep(0.05)

    async def one(delay: float) -> bool:
        await asyncio.sleep(delay)
        client = Client(target)
        try:
            reply = await client.send(raw)
            return reply.status == 200 and b"message_stop" in reply.body
        except OSError:
            return False
        finally:
            client.close()

    sampler = asyncio.create_task(sample())
    stagger = 1.0 / plan.streams
    completed = await asyncio.gather(*(one(i * stagger) for i in range(plan.streams)))
    finished.set()
    await sampler
    return {
        "streams": plan.streams,
        "idle_mb": round(idle, 1),
        "peak_mb": round(peak, 1),
        "per_stream_kb": round((peak - idle) * 1024 / plan.streams, 1),
        "errors": completed.count(False),
    }


async def check(target: Target) -> str | None:
    """None if the target answers like the Messages API, else what is wrong with it."""
    client = Client(target)
    try:
        reply = await client.send(target.raw())
        streamed = await client.send(target.raw(stream=True))
    except OSError as exc:
        return f"cannot reach {target.host}:{target.port}: {exc}"
    finally:
        client.close()
    if reply.status != 200 or b'"type":"message"' not in reply.body.replace(b" ", b""):
        return f"POST /v1/messages answered {reply.status}: {reply.body[:300]!r}"
    if streamed.status != 200 or b"message_stop" not in streamed.body:
        return f"streaming POST /v1/messages answered {streamed.status}: {streamed.body[:300]!r}"
    return None


async def measure(target: Target, plan: Plan, fake_pid: int | None = None) -> dict[str, Any]:
    """One path's warm-up (which also fills the upstream pool) and its memory figures; the
    timed figures come after, with the paths taking turns (`timed_in_turns`).

    Memory comes first, right after the warm-up: the throughput run would grow the heap and
    leave room in it that the streams then fill unseen, hiding their cost.
    """
    await sequential(target, target.raw(), plan.warmup_requests, lambda r: 0.0)
    await throughput(target, concurrency=plan.concurrency, seconds=1.0)
    memory = await stream_memory(target, plan) if target.pid else None
    return {
        "errors": (memory or {}).get("errors", 0),
        **({"memory": memory} if memory else {}),
    }


# Turns a latency figure is measured in (the blocks the paths alternate).
LATENCY_TURNS = 8
STREAM_TURNS = 4


async def timed_in_turns(
    targets: list[Target], plan: Plan, fake_pid: int | None
) -> dict[str, dict[str, Any]]:
    """Latency, stream TTFB and paced stream totals of every path, the paths taking turns."""
    pids = [target.pid for target in targets] + [fake_pid]

    def paced(target: Target) -> bytes:
        return target.raw(stream=True, scenario=PACED_STREAM)

    def streamed(target: Target) -> bytes:
        return target.raw(stream=True)

    def whole(reply: Reply) -> float:
        return reply.finished - reply.started

    def first_byte(reply: Reply) -> float:
        return reply.first_byte - reply.started

    latency = await sequential_in_turns(
        targets, Target.raw, plan.latency_requests, whole, LATENCY_TURNS, pids
    )
    ttfb = await sequential_in_turns(
        targets, streamed, plan.ttfb_requests, first_byte, STREAM_TURNS, pids
    )
    totals = await sequential_in_turns(
        targets, paced, plan.stream_total_requests, whole, STREAM_TURNS, pids
    )
    return {
        name: {
            "latency_p50_ms": round(percentile(latency[name].values_ms, 50), 3),
            "latency_p99_ms": round(percentile(latency[name].values_ms, 99), 3),
            "ttfb_p50_ms": round(percentile(ttfb[name].values_ms, 50), 3),
            "ttfb_p99_ms": round(percentile(ttfb[name].values_ms, 99), 3),
            "stream_total_ms": round(percentile(totals[name].values_ms, 50), 3),
            "errors": latency[name].errors + ttfb[name].errors + totals[name].errors,
        }
        for name in latency
    }


async def run_measurements(
    targets: list[Target], plan: Plan, *, fake_pid: int | None = None
) -> dict[str, Any]:
    # The client's own garbage collector would add its pauses to both paths' tails.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        results = {
            target.name: await measure_or_explain(target, plan, fake_pid) for target in targets
        }
        measured = [target for target in targets if "error" not in results[target.name]]
        try:
            async with asyncio.timeout(plan.budget_seconds * max(1, len(measured))):
                timed = await timed_in_turns(measured, plan, fake_pid)
                turns = await throughput_in_turns(measured, plan, fake_pid)
        except TimeoutError:
            for target in measured:
                results[target.name] = {"error": "a path stopped answering (time budget exhausted)"}
            return results
        except (OSError, RuntimeError) as exc:
            for target in measured:
                results[target.name] = {"error": f"failed mid-run: {exc!r}"}
            return results
        for name in timed:
            for figures in (timed[name], turns[name]):
                results[name]["errors"] += figures.pop("errors")
                results[name].update(figures)
        return results
    finally:
        gc.enable()


async def throughput_in_turns(
    targets: list[Target], plan: Plan, fake_pid: int | None
) -> dict[str, dict[str, Any]]:
    """Each path's throughput at c=32, the paths taking turns round by round.

    The rounds alternate the order (direct then proxy, then proxy then direct), and each
    starts once the servers have gone quiet (a proxy's recorder writes its last round's
    records for a moment after it). A path's req/s and CPU shares are its rounds' mean.
    """
    seconds = plan.throughput_seconds / plan.throughput_rounds
    rounds: dict[str, list[float]] = {target.name: [] for target in targets}
    cpu: dict[str, list[dict[str, float]]] = {target.name: [] for target in targets}
    errors = dict.fromkeys(rounds, 0)
    for turn in range(plan.throughput_rounds):
        for target in targets if turn % 2 == 0 else targets[::-1]:
            await quiet([t.pid for t in targets] + [fake_pid])
            with CpuMeter(target.pid, fake_pid) as meter:
                rps, failed = await throughput(
                    target, concurrency=plan.concurrency, seconds=seconds
                )
            rounds[target.name].append(round(rps, 1))
            errors[target.name] += failed
            if meter.shares:
                cpu[target.name].append(meter.shares)
    return {
        name: {
            "rps": round(mean(rounds[name]), 1),
            "rps_rounds": rounds[name],
            "errors": errors[name],
            **({"cpu": _mean_shares(cpu[name])} if cpu[name] else {}),
        }
        for name in rounds
    }


def _mean_shares(rounds: list[dict[str, float]]) -> dict[str, float]:
    means = {key: round(mean(shares[key] for shares in rounds), 1) for key in rounds[0]}
    return {**means, "machine cores": rounds[0]["machine cores"]}


async def quiet(pids: list[int | None], *, most: float = 3.0) -> None:
    """Wait until the given processes use under a tenth of a core (at most `most` s)."""
    processes = [each for pid in pids if pid is not None for each in (pid, *_children(pid))]
    deadline = time.perf_counter() + most
    while time.perf_counter() < deadline:
        try:
            before = sum(map(_cpu_seconds, processes))
            await asyncio.sleep(0.1)
            after = sum(map(_cpu_seconds, processes))
        except (OSError, ValueError, IndexError):
            return  # not Linux, or a process is gone: nothing to wait for
        if after - before < 0.01:
            return


async def measure_or_explain(
    target: Target, plan: Plan, fake_pid: int | None = None
) -> dict[str, Any]:
    """The metrics of one path, or {"error": why} when it cannot be measured."""
    try:
        async with asyncio.timeout(15):
            problem = await check(target)
        if problem:
            return {"error": problem}
        async with asyncio.timeout(plan.budget_seconds):
            return await measure(target, plan, fake_pid)
    except TimeoutError:
        return {"error": f"{target.name} stopped answering (time budget exhausted)"}
    except (OSError, RuntimeError) as exc:
        return {"error": f"{target.name} failed mid-run: {exc!r}"}


# Servers -----------------------------------------------------------------------------------


class ProxyUnavailable(Exception):
    """The proxy could not be prepared or started; the message says why."""


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=servers.server_env(env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def prepare_database(env: dict[str, str], notes: list[str]) -> None:
    """Migrate a fresh database and add the bench account; ProxyUnavailable if migrate fails."""
    migrated = manage(["migrate", "--noinput"], env)
    if migrated.returncode != 0:
        raise ProxyUnavailable(f"manage.py migrate failed:\n{tail(migrated.stderr)}")
    added = manage(["add_account", "bench", "--api-key", ACCOUNT_KEY], env)
    if "Unknown command" in added.stderr:
        notes.append(
            "manage.py add_account does not exist yet: requests pass through with the client's key"
        )
    elif added.returncode != 0:
        notes.append(f"add_account failed, requests may pass through: {tail(added.stderr, 3)}")


def start_proxy(
    *, fake_port: int, work_dir: Path, notes: list[str], key_budgets: bool = False, workers: int = 1
) -> Target:
    """Prepare a fresh DATA_DIR and start daphne on it; raises ProxyUnavailable with the reason.

    With `workers` > 1 it starts `python -m ccflare_site.serve` with WORKERS instead (its
    memory figures add up the parent and its workers). The caller stops the process when done.
    """
    upstream = f"http://127.0.0.1:{fake_port}"
    env = {
        "DATA_DIR": str(work_dir),
        "DATABASE_URL": f"sqlite:///{work_dir / 'ccflare.db'}",
        "UPSTREAM_BASE_URL": upstream,
        "OAUTH_TOKEN_URL": f"{upstream}/v1/oauth/token",
        "OAUTH_CREATE_API_KEY_URL": f"{upstream}/api/oauth/claude_cli/create_api_key",
        "OAUTH_USAGE_URL": f"{upstream}/api/oauth/usage",
        # No usage polls in the background of a measurement.
        "USAGE_POLL_SECONDS": "0",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    prepare_database(env, notes)
    client_key = budgeted_client_key(env, notes) if key_budgets else CLIENT_KEY
    log_path = work_dir / "daphne.log"
    try:
        with open(log_path, "wb") as log:
            if workers > 1:
                env["WORKERS"] = str(workers)
                process, port = servers.start_served(env=env, output=log, timeout=60.0)
            else:
                process, port = servers.start_proxy_server(env=env, output=log, timeout=60.0)
    except servers.ServerDidNotStart as exc:
        output = tail(log_path.read_text(errors="replace"))
        raise ProxyUnavailable(f"daphne did not start ({exc}):\n{output}") from None
    return Target(
        "proxy", "127.0.0.1", port, pid=process.pid, process=process, client_key=client_key
    )


def budgeted_client_key(env: dict[str, str], notes: list[str]) -> str:
    """A client key with a requests, a tokens and a pool-share budget, none ever reached."""
    created = manage(["create_client_key", "bench"], env)
    if created.returncode != 0:
        raise ProxyUnavailable(f"create_client_key failed:\n{tail(created.stderr)}")
    for budget in (["requests", "1h", "1000000000"], ["tokens", "1d", "1000000000"],
                   ["pool_share", "5h", "100"]):  # fmt: skip
        manage(["client_keys", "budget", "bench", *budget], env)
    notes.append("proxy requests carry a client key with three budgets (--key-budgets)")
    return created.stdout.strip()


def raise_open_files_limit() -> None:
    # Hundreds of concurrent streams need more descriptors than a default soft limit of 1024
    # in the client and, inherited, in daphne (one socket each way per stream).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))


# Report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One target (docs/performance.md), judged on the metric named `key`."""

    key: str
    name: str
    value: float
    limit: float
    unit: str
    at_least: bool = False  # True when the value must reach the limit rather than stay under

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit


def checks(direct: dict[str, Any], proxy: dict[str, Any], *, workers: int = 1) -> list[Check]:
    """The targets, judged on one run in which both paths were measured.

    With workers the throughput target is issue 17's for two (30%), and the memory peak,
    a one-process target, is reported without one (the processes add up).
    """

    def added(key: str) -> float:
        return proxy[key] - direct[key]

    found = [
        Check("latency_p50_ms", "added latency p50", added("latency_p50_ms"), 0.9, "ms"),
        Check("latency_p99_ms", "added latency p99", added("latency_p99_ms"), 4.0, "ms"),
        Check("ttfb_p50_ms", "added stream TTFB p50", added("ttfb_p50_ms"), 1.5, "ms"),
        Check(
            "stream_total_ms",
            "paced stream total over direct",
            100 * added("stream_total_ms") / direct["stream_total_ms"],
            2.0,
            "%",
        ),
        Check(
            "rps",
            "throughput proxy/direct",
            100 * proxy["rps"] / direct["rps"],
            18 if workers == 1 else 30,
            "%",
            True,
        ),
        Check("errors", "failed requests via proxy", proxy["errors"], 0, "requests"),
    ]
    memory = proxy.get("memory")
    if memory:
        found.append(
            Check("per_stream_kb", "memory per open stream", memory["per_stream_kb"], 40, "KB")
        )
        if workers == 1:
            found.append(
                Check("peak_mb", "memory peak with streams open", memory["peak_mb"], 120, "MB")
            )
    return found


ROWS = (
    ("latency p50, c=1 (ms)", "latency_p50_ms"),
    ("latency p99, c=1 (ms)", "latency_p99_ms"),
    ("stream TTFB p50 (ms)", "ttfb_p50_ms"),
    ("stream TTFB p99 (ms)", "ttfb_p99_ms"),
    ("paced stream total (ms)", "stream_total_ms"),
    ("throughput, c=32 (req/s)", "rps"),
    ("failed requests", "errors"),
)
MEMORY_ROWS = (
    ("memory idle (MB)", "idle_mb"),
    ("memory peak, streams open (MB)", "peak_mb"),
    ("memory per open stream (KB)", "per_stream_kb"),
)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return str(value)


def compare(key: str, direct: Any, proxy: Any) -> str:
    if direct is None or proxy is None:
        return "-"
    return f"{proxy / direct:.1%}" if key == "rps" else f"{proxy - direct:+.3g}"


def verdict(check: dict[str, Any] | None) -> tuple[str, str]:
    if check is None:
        return "", ""
    relation = ">=" if check["at_least"] else "<="
    return f"{relation} {check['limit']:g} {check['unit']}", "PASS" if check["passed"] else "MISS"


def table(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """The rows of the printed table, header first."""
    direct, proxy = (
        {} if "error" in results[name] else results[name] for name in ("direct", "proxy")
    )
    judged = {check["key"]: check for check in results["checks"]}
    other = results.get("compare")
    header = ("metric", "direct", "proxy", "added / ratio")
    if other is not None:
        header += ("compared", "added / ratio")
        other = {} if "error" in other else other
    rows = [(*header, "target", "result")]
    for label, key in ROWS:
        d, p = direct.get(key), proxy.get(key)
        row = (label, fmt(d), fmt(p), compare(key, d, p))
        if other is not None:
            row += (fmt(other.get(key)), compare(key, d, other.get(key)))
        rows.append((*row, *verdict(judged.get(key))))
    memory = proxy.get("memory", {})
    for label, key in MEMORY_ROWS:
        row = (label, "-", fmt(memory.get(key)), "")
        if other is not None:
            row += (fmt(other.get("memory", {}).get(key)), "")
        rows.append((*row, *verdict(judged.get(key))))
    return rows


def cpu_lines(results: dict[str, Any]) -> list[str]:
    """Where the CPU went during each path's throughput run (CpuMeter), one line per path."""
    lines = []
    for name in ("direct", "proxy", "compare"):
        shares = results.get(name, {}).get("cpu")
        if shares:
            used = ", ".join(
                f"{part} {value:.0f}%"
                for part, value in shares.items()
                if not part.startswith("machine")
            )
            lines.append(
                f"CPU during {name} throughput, % of one core: {used}; the machine "
                f"({shares['machine cores']} cores) was {shares['machine idle']:.0f}% idle"
                f" of {100 * shares['machine cores']}%"
            )
    return ["", *lines] if lines else []


def render(results: dict[str, Any]) -> str:
    rows = table(results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    passed = sum(check["passed"] for check in results["checks"])
    lines.append(f"\ntargets met: {passed}/{len(results['checks'])}")
    lines += cpu_lines(results)
    lines += [f"note: {note}" for note in results["notes"]]
    lines += [
        f"{name} not measured: {results[name]['error']}"
        for name in ("direct", "proxy", "compare")
        if "error" in results.get(name, {})
    ]
    return "\n".join(lines)


# Main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests: a smoke run")
    parser.add_argument(
        "--proxy-only-url",
        metavar="URL",
        help="measure this running server instead of starting daphne",
    )
    parser.add_argument(
        "--proxy-pid", type=int, help="with --proxy-only-url: its pid, to measure memory"
    )
    parser.add_argument(
        "--upstream-port",
        type=int,
        default=0,
        metavar="PORT",
        help="run the fake upstream on this port (default: a free one), so another proxy "
        "configured with http://127.0.0.1:PORT as its upstream can be measured with --compare",
    )
    parser.add_argument(
        "--compare",
        metavar="URL",
        help="also measure another running proxy (e.g. the original ccflare) the same way",
    )
    parser.add_argument("--compare-pid", type=int, help="with --compare: its pid, for memory")
    parser.add_argument(
        "--workers", type=int, default=1, help="serve the proxy with WORKERS daphne processes"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--key-budgets",
        action="store_true",
        help="send a client key with budgets (none ever reached), to measure their check",
    )
    return parser.parse_args(argv)


def exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the cleanup below, like Ctrl-C does


def proxy_target(
    args: argparse.Namespace, stack: contextlib.ExitStack, fake_port: int, notes: list[str]
) -> Target:
    """The proxy to measure: the server given on the command line, or daphne started here."""
    if args.proxy_only_url:
        url = urlsplit(args.proxy_only_url)
        return Target("proxy", url.hostname or "127.0.0.1", url.port or 80, pid=args.proxy_pid)
    work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ccflare-bench-")))
    target = start_proxy(
        fake_port=fake_port,
        work_dir=work_dir,
        notes=notes,
        key_budgets=args.key_budgets,
        workers=args.workers,
    )
    assert target.process is not None
    stack.callback(servers.stop, target.process)
    return target


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    """Start the servers (their cleanup goes on `stack`), measure both paths, return the results."""
    plan, notes = (QUICK if args.quick else FULL), []
    fake, fake_port = servers.start_fake_upstream(log=False, port=args.upstream_port)
    stack.callback(servers.stop, fake)
    targets = [Target("direct", "127.0.0.1", fake_port)]
    proxy_error = None
    try:
        targets.append(proxy_target(args, stack, fake_port, notes))
    except ProxyUnavailable as exc:
        proxy_error = str(exc)
    if args.compare:
        url = urlsplit(args.compare)
        targets.append(
            Target("compare", url.hostname or "127.0.0.1", url.port or 80, pid=args.compare_pid)
        )
    names = ", ".join(target.name for target in targets)
    print(f"measuring {names} with the {'quick' if args.quick else 'full'} plan...", flush=True)
    results = asyncio.run(run_measurements(targets, plan, fake_pid=fake.pid))
    results.setdefault("proxy", {"error": proxy_error})
    results.update(plan=asdict(plan), notes=notes, when=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_open_files_limit()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    # Started in the background by a shell, we would inherit an ignored SIGINT: take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with contextlib.ExitStack() as stack:
        results = run(args, stack)
    direct, proxy = results["direct"], results["proxy"]
    measured = "error" not in direct and "error" not in proxy
    judged = checks(direct, proxy, workers=args.workers) if measured else []
    results["checks"] = [asdict(check) | {"passed": check.passed} for check in judged]
    print(render(results))
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {RESULTS_FILE.relative_to(ROOT)}")
    missed = not measured or not all(check.passed for check in judged)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped", file=sys.stderr)
        sys.exit(130)
