"""The proxy's background loop: write-behind flushes, and a full drain on shutdown.

Started on the first /v1/ request (ASGI servers give no start hook that daphne
honours). Each tick writes the account pool's pending updates first, then the
recorded requests, so a session reset lands before the counts that follow it.
"""

import asyncio
import atexit
import logging

from django.conf import settings

from accounts import background as accounts_background
from accounts.pool import pool
from analytics.operations import maintenance
from analytics.recording.write_behind import recorder
from proxy import upstream

logger = logging.getLogger(__name__)

# The longest wait between flushes while the database is away.
MAX_BACKOFF_SECONDS = 5.0

_task: asyncio.Task | None = None
_drain_installed = False


def ensure_started() -> None:
    global _task
    if _task is not None and not _task.done():
        return
    _task = asyncio.get_running_loop().create_task(_flush_forever())
    _install_shutdown_drain()
    # Under daphne the accounts' checks start with the server (ccflare_site/asgi.py); on
    # other servers the first proxied request starts them with the rest.
    accounts_background.ensure_started()


async def flush_once() -> None:
    """Write everything pending now. Never raises."""
    try:
        await pool.flush()
        await recorder.flush()
    except Exception:
        logger.exception("proxy.background_flush_failed")


async def _flush_forever() -> None:
    """Flush every RECORDER_FLUSH_MS, or sooner once a batch of records waits.

    The tick counts from the start of the previous flush, so a flush that ran longer
    than a tick (a large backlog under load) is followed by the next one at once:
    the unwritten backlog stays about two flushes long instead of growing with load.
    """
    loop = asyncio.get_running_loop()
    interval = settings.RECORDER_FLUSH_MS / 1000
    while True:
        started = loop.time()
        await flush_once()
        # Retention, hourly while the server runs: started in a thread, never awaited here.
        maintenance.periodic.schedule()
        if recorder.failures:
            # The database is away: try again later and later, not every tick.
            await asyncio.sleep(backoff_seconds(recorder.failures, interval))
            continue
        await recorder.wait_for_batch(at_most=max(0.0, started + interval - loop.time()))


def backoff_seconds(failures: int, interval: float) -> float:
    """The wait after `failures` failed flushes in a row: doubling, at most MAX_BACKOFF."""
    return min(interval * 2 ** min(failures, 16), MAX_BACKOFF_SECONDS)


def _install_shutdown_drain() -> None:
    """Drain at shutdown: inside daphne's reactor while the loop still runs, then atexit.

    Daphne cancels in-flight requests in its 'before shutdown' phase; their
    records are queued by then, so the 'during' phase flushes them. atexit is
    the backstop for anything left (it runs with no event loop, so sync ORM works).
    """
    global _drain_installed
    if _drain_installed:
        return
    _drain_installed = True
    atexit.register(_drain_sync)
    try:
        from twisted.internet import defer, reactor
    except ImportError:
        return
    if reactor.running:
        # Without the zope plugin the checker reads the interface method's first argument as self.
        reactor.addSystemEventTrigger(
            "during",
            "shutdown",  # type: ignore[arg-type]
            lambda: defer.Deferred.fromFuture(asyncio.ensure_future(_final_drain())),
        )


async def _final_drain() -> None:
    await flush_once()
    await upstream.close_session()


def _drain_sync() -> None:
    try:
        pool.flush_sync()
        recorder.flush_sync()
    except Exception:
        logger.exception("proxy.shutdown_drain_failed")
    if recorder.pending:
        # The database stayed away to the end: say what is lost rather than lose it quietly.
        logger.error("recording.lost_at_shutdown count=%d", recorder.pending)
