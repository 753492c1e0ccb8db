"""Client keys' budgets, checked in memory: no database round trip per request.

Each process keeps, per key with budgets, its use over each budget's window as last
read from the recorded requests (`analytics.reporting.key_usage`). Under traffic the
numbers are re-read in the background once older than ACCOUNT_CACHE_SECONDS; only a
request finding them older than twice that (the first one, one after a budget changed
or an idle spell) waits for a read, and concurrent ones share it. Requests this process
let through that are not recorded yet ("pending": in flight, or queued for the
write-behind) are counted on top, until a re-read finds their rows.

Several processes on one database (WORKERS=N) see each other's requests once those
are recorded and re-read: a key can overrun a requests budget by what the other
processes let through in that time, at most two ACCOUNT_CACHE_SECONDS plus one
RECORDER_FLUSH_MS (about 2 s by default), plus their requests still in flight. Tokens
and cost are known when a request ends, so they count from its record on.
"""

import asyncio
import contextlib
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import connection, transaction

from access.models import WINDOW_SECONDS, KeyBudget
from access.policy import Budget, KeyPolicy
from accounts.pool import pool
from analytics.reporting import key_usage
from analytics.reporting.key_usage import Tallies, Tally, Utilisation
from lib.hot_settings import hot
from lib.reloading import FailureLog
from lib.shared_run import SharedRun

logger = logging.getLogger(__name__)

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="key-budgets")
POOL_SHARE = KeyBudget.Metric.POOL_SHARE
# A pending request whose row never appears (dropped in an outage) stops counting after
# this long; long enough for the longest streams to end and be written.
PENDING_MAX_AGE = 30 * 60
# When the pool's windows reset is unknown, a refused client tries again after this.
POOL_RETRY_SECONDS = 60
# Windows longer than this are read in two parts (WindowReader).
RECENT_SECONDS = 3600
OLD_PART_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a key is refused: the budget it is over, its use, and when it frees up."""

    budget: Budget
    used: float
    retry_after: int


@dataclass(slots=True)
class Snapshot:
    """What one re-read found; replaced whole, never changed in place."""

    tallies: dict[tuple[int, str], Tally] = field(default_factory=dict)
    # A key's share of the pool's window, in percent, by (key, window).
    shares: dict[tuple[int, str], float] = field(default_factory=dict)
    # When an over-budget key frees up (epoch seconds), by (key, metric, window).
    free_at: dict[tuple[int, str, str], float] = field(default_factory=dict)
    pool_reset: dict[str, float] = field(default_factory=dict)


class BudgetTracker:
    def __init__(self) -> None:
        self._snapshot = Snapshot()
        self._loaded_at = float("-inf")
        # Keys with budgets and when each last sent a request (a key whose budgets are
        # removed sends none here again: it is dropped after PENDING_MAX_AGE).
        self._watched: dict[int, KeyPolicy] = {}
        self._seen_at: dict[int, float] = {}
        # Requests let through and not yet seen recorded: key -> {id: epoch admitted}.
        self._pending: dict[int, dict[str, float]] = {}
        self._refresh = SharedRun(self._do_refresh)
        self._failures = FailureLog(logger, "proxy.budget_refresh")
        self._background: asyncio.Task | None = None

    async def admit(self, policy: KeyPolicy, request_id: str) -> Verdict | None:
        """None to let the request through (it is counted), or the budget it is over."""
        if self._watched.get(policy.key_id) != policy:
            self._watched[policy.key_id] = policy
            self._loaded_at = float("-inf")  # a new or changed budget: read its use now
        age = time.monotonic() - self._loaded_at
        interval = hot.ACCOUNT_CACHE_SECONDS
        if age > 2 * interval:
            # Never read, a new or changed budget, or an idle spell: wait for the numbers.
            await self._refresh.run()
        elif age > interval:
            # Busy: decide on numbers at most two intervals old, re-read meanwhile.
            self._refresh_soon()
        now = time.time()
        self._seen_at[policy.key_id] = now
        for budget in policy.budgets:
            used = self.used(policy.key_id, budget)
            if used >= budget.limit:
                return Verdict(budget, used, self._retry_after(policy.key_id, budget, now))
        self._pending.setdefault(policy.key_id, {})[request_id] = now
        return None

    def _refresh_soon(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.get_running_loop().create_task(self._refresh.run())

    def used(self, key_id: int, budget: Budget) -> float:
        """The key's use against this budget as this process sees it now."""
        if budget.metric == POOL_SHARE:
            return self._snapshot.shares.get((key_id, budget.window), 0.0)
        tally = self._snapshot.tallies.get((key_id, budget.window), Tally())
        used = tally.get(budget.metric)
        if budget.metric == KeyBudget.Metric.REQUESTS:
            used += len(self._pending.get(key_id, ()))
        return used

    def _retry_after(self, key_id: int, budget: Budget, now: float) -> int:
        snapshot = self._snapshot
        at: float | None
        if budget.metric == POOL_SHARE:
            at = snapshot.pool_reset.get(budget.window, now + POOL_RETRY_SECONDS)
        else:
            at = snapshot.free_at.get((key_id, budget.metric, budget.window))
            if at is None:
                # Over since the last read (its own requests took it there): the oldest
                # request counted is the first to leave the window.
                at = self._oldest(key_id, budget.window, now) + budget.seconds
        return max(1, math.ceil(at - now))

    def _oldest(self, key_id: int, window: str, now: float) -> float:
        recorded = self._snapshot.tallies.get((key_id, window), Tally()).first
        pending = self._pending.get(key_id, {}).values()
        return min([t for t in (recorded, *pending) if t is not None], default=now)

    async def _do_refresh(self) -> None:
        loop = asyncio.get_running_loop()
        now = time.time()
        self._pending = {
            key: {rid: at for rid, at in ids.items() if now - at < PENDING_MAX_AGE}
            for key, ids in self._pending.items()
        }
        for key_id, seen_at in list(self._seen_at.items()):
            if now - seen_at > PENDING_MAX_AGE and not self._pending.get(key_id):
                del self._seen_at[key_id]
                self._watched.pop(key_id, None)
        policies = list(self._watched.values())
        pending = {key: dict(ids) for key, ids in self._pending.items()}
        utilisation = key_usage.pool_utilisation(await pool.accounts(), now=now)
        try:
            snapshot, seen = await loop.run_in_executor(
                _executor, _read, policies, pending, utilisation, now
            )
        except Exception:
            # Keep the last numbers: a database hiccup must not stop the proxy.
            self._failures.failed()
        else:
            self._failures.ok()
            self._snapshot = snapshot
            for ids in self._pending.values():
                for rid in seen.intersection(ids):
                    del ids[rid]
        self._loaded_at = time.monotonic()


def _read(
    policies: list[KeyPolicy],
    pending: dict[int, dict[str, float]],
    utilisation: dict[str, Utilisation],
    now: float,
) -> tuple[Snapshot, set[str]]:
    """Read the watched keys' use (in this thread's own connection)."""
    try:
        # Which pending rows are written, and the tallies, from one snapshot: a row written
        # between the two reads would count twice (as written and as pending) and refuse a
        # request within its budget. SQLite's read transaction is one snapshot; PostgreSQL's
        # default (READ COMMITTED) gives each statement its own, hence REPEATABLE READ.
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            ids = [rid for key_ids in pending.values() for rid in key_ids]
            seen = key_usage.written(ids) if ids else set()
            return _snapshot(policies, pending, seen, utilisation, now), seen
    except Exception:
        with contextlib.suppress(Exception):
            connection.close()
        raise


def _snapshot(
    policies: list[KeyPolicy],
    pending: dict[int, dict[str, float]],
    seen: set[str],
    utilisation: dict[str, Utilisation],
    now: float,
) -> Snapshot:
    snapshot = Snapshot()
    windows = {b.window for p in policies for b in p.budgets if b.metric != POOL_SHARE}
    keys = [p.key_id for p in policies]
    _reader.forget_old(now)
    for window in windows:
        for key_id, tally in _reader.read(keys, _seconds(window), now).items():
            if key_id is not None:
                snapshot.tallies[key_id, window] = tally
    for window in {b.window for p in policies for b in p.budgets if b.metric == POOL_SHARE}:
        every_key = _reader.read(None, _seconds(window), now)
        shares = key_usage.pool_shares(utilisation[window], every_key)
        for key_id in keys:
            snapshot.shares[key_id, window] = shares.get(key_id, 0.0)
        reset = utilisation[window].reset
        snapshot.pool_reset[window] = reset if reset is not None else now + POOL_RETRY_SECONDS
    for policy in policies:
        own = pending.get(policy.key_id, {})
        unwritten = sorted(at for rid, at in own.items() if rid not in seen)
        _note_free_at(snapshot, policy, unwritten, now)
    return snapshot


def _note_free_at(snapshot: Snapshot, policy: KeyPolicy, own: list[float], now: float) -> None:
    """For each budget the key is at or over, when enough of its use leaves the window.

    `own`: when the key's requests not recorded yet were let through, oldest first.
    """
    for budget in policy.budgets:
        if budget.metric == POOL_SHARE:
            continue
        tally = snapshot.tallies.get((policy.key_id, budget.window), Tally())
        requests = budget.metric == KeyBudget.Metric.REQUESTS
        used = tally.get(budget.metric) + (len(own) if requests else 0)
        if used < budget.limit:
            continue
        # Requests are whole: one under the limit lets the next through.
        excess = used - budget.limit + (1 if requests else 1e-9)
        at = key_usage.free_at(
            policy.key_id,
            budget.metric,
            since=now - budget.seconds,
            excess=excess,
            window=budget.seconds,
        )
        if at is None and requests and own:
            # The rest of the excess is in requests not recorded yet, newest last.
            index = min(len(own) - 1, max(0, math.ceil(excess - tally.requests) - 1))
            at = own[index] + budget.seconds
        key = (policy.key_id, budget.metric, budget.window)
        snapshot.free_at[key] = at if at is not None else now + budget.seconds


class WindowReader:
    """Tallies over a window, cheap enough to read every second (budget thread only).

    A window longer than RECENT_SECONDS is read in two parts: what is older than that is
    read once per OLD_PART_SECONDS and kept, the rest on every read. The sum covers from
    the old part's read on, so rows leaving the window in between are still counted:
    a budget frees up at most OLD_PART_SECONDS late, never early.
    """

    def __init__(self) -> None:
        # (window, keys) -> (when the old part was read, its tallies)
        self._old: dict[tuple[int, tuple[int, ...] | None], tuple[float, Tallies]] = {}

    def read(self, keys: list[int] | None, window: int, now: float) -> Tallies:
        """The tallies of `keys` (None: every key, and requests without one) over the window."""
        if window <= RECENT_SECONDS:
            return key_usage.tallies(keys, since=now - window)
        ident = (window, None if keys is None else tuple(sorted(keys)))
        cached = self._old.get(ident)
        if cached is None:
            old = key_usage.tallies(keys, since=now - window, until=now - RECENT_SECONDS)
            self._old[ident] = cached = (now, old)
        read_at, old = cached
        return key_usage.merged(old, key_usage.tallies(keys, since=read_at - RECENT_SECONDS))

    def forget_old(self, now: float) -> None:
        self._old = {
            ident: entry
            for ident, entry in self._old.items()
            if 0 <= now - entry[0] < OLD_PART_SECONDS
        }


def _seconds(window: str) -> int:
    return WINDOW_SECONDS[window]


_reader = WindowReader()
tracker = BudgetTracker()
