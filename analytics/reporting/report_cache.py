"""Reports slow to build are reused for a while, so that watching them cannot load the server.

The dashboard's overview asks for its report again every few seconds while requests come
in (static/js/overview.js), and each open tab and TUI asks on its own. On a busy install a
report is slow: 1.5 s of the server's CPU over a day of 110,000 requests here, 6 s over 30
days of 600,000. A dashboard left open then kept the server building reports about all the
time, on the cores the proxy needs. So a report that cost SLOW_SECONDS or more (_cost_clock)
is reused for REUSE_FACTOR times as long (within MIN_REUSE_SECONDS and MAX_REUSE_SECONDS):
building one set of filters then takes at most about a tenth of a core, however many look.
A quick report, as on most installs, is built afresh every time, exact to the last request.
/api/stats, which reads the whole history (4 s over 1.5 million requests), is kept the same
way. Clearing the history (`forget`) drops what every process kept: it writes a new mark
(a RuntimeSetting row), which each use of a kept report reads (one row by its key), so a
`clear_history` command or another worker's reset is seen at once too.
"""

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

from analytics.models import RuntimeSetting
from analytics.reporting import queries, report

SLOW_SECONDS = 0.2
REUSE_FACTOR = 10
MIN_REUSE_SECONDS = 2.0
MAX_REUSE_SECONDS = 60.0
# Sets of filters kept at once (each report is tens of KB).
KEPT = 32

# The RuntimeSetting whose value changes each time the history is cleared, anywhere.
CLEARED_MARK = "history_cleared"

_Key = tuple[Any, ...]
# built at, reuse, the mark then, report
_kept: OrderedDict[_Key, tuple[float, float, Any, dict]] = OrderedDict()
# Sync views may run in several threads at once; two that miss at the same moment both
# build (rare), and the later one is kept.
_guard = threading.Lock()


def build(filters: report.Filters) -> dict:
    """The report for these filters: a slow one built recently, or a new one (shared:
    not to be changed by the caller)."""
    return _reused(("report", *_key(filters)), lambda: report.build(filters))


def stats(client_keys: Sequence[str] = ()) -> dict:
    """/api/stats' numbers, kept as reports are: they read the whole history."""
    return _reused(("stats", *client_keys), lambda: queries.stats(client_keys=client_keys))


def _reused(key: _Key, make: Callable[[], dict]) -> dict:
    # Read before building: a clear while it builds makes the new report stale too.
    mark = _cleared_mark()
    kept = _fresh(key, mark)
    if kept is not None:
        return kept
    clock = _cost_clock()
    started = clock()
    built = make()
    took = clock() - started
    if took >= SLOW_SECONDS:
        reuse = min(MAX_REUSE_SECONDS, max(MIN_REUSE_SECONDS, took * REUSE_FACTOR))
        _keep(key, built, reuse, mark)
    return built


def _cost_clock() -> Callable[[], float]:
    """What a report's cost is measured by: on SQLite, which runs in this thread, the
    thread's CPU time; on PostgreSQL, whose work is the database server's, the wall time.

    By the wall time on SQLite, a machine busy with other work made a small install's
    report look slow, and kept it (stale) for ten times as long as it had waited.
    """
    return time.thread_time if connection.vendor == "sqlite" else time.perf_counter


def forget() -> None:
    """Drop every kept report, this process's and every other's (the history was cleared:
    they count what is gone)."""
    RuntimeSetting.objects.update_or_create(key=CLEARED_MARK, defaults={"value": uuid.uuid4().hex})
    with _guard:
        _kept.clear()


def _cleared_mark() -> Any:
    return RuntimeSetting.objects.filter(key=CLEARED_MARK).values_list("value", flat=True).first()


def _key(filters: report.Filters) -> _Key:
    return (
        filters.range,
        tuple(filters.accounts),
        tuple(filters.models),
        filters.status,
        filters.cumulative,
        filters.model_breakdown,
        tuple(filters.client_keys),
    )


def _fresh(key: _Key, mark: Any) -> dict | None:
    with _guard:
        entry = _kept.get(key)
        if entry is None:
            return None
        built_at, reuse, built_mark, kept = entry
        # Wall time, so that a clock set back cannot keep a report for ever.
        if 0 <= time.time() - built_at < reuse and built_mark == mark:
            return kept
        del _kept[key]
        return None


def _keep(key: _Key, built: dict, reuse: float, mark: Any) -> None:
    with _guard:
        _kept[key] = (time.time(), reuse, mark, built)
        _kept.move_to_end(key)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
