"""The proxy's background loop: write-behind flushes, and a full drain on shutdown.

Started on the first /v1/ request (ASGI servers give no start hook that daphne
honours). Each tick writes the account pool's pending updates first, then the
recorded requests, so a session reset lands before the counts that follow it.
"""

import asyncio
import atexit
import logging
import time

from django.conf import settings

from access import clientkeys
from accounts import background as accounts_background
from accounts.pool import pool
from analytics.operations import maintenance
from analytics.recording.write_behind import recorder
from lib import db_away
from proxy import upstream

logger = logging.getLogger(__name__)

# The longest wait between flushes while the database is away.
MAX_BACKOFF_SECONDS = 5.0
# At shutdown the waits between tries are shorter: the drain has a deadline, and each
# try on a locked SQLite database already waits for the lock (the busy timeout).
SHUTDOWN_MAX_BACKOFF_SECONDS = 1.0
# The first try at shutdown waits this long for a lock even when the drain's time is
# spent (requests in flight took it all): a lock held for a moment (a report reading,
# a retention run) must not cost the records of the last requests.
LAST_TRY_SECONDS = 1.0

_task: asyncio.Task | None = None
_drain_installed = False
# When the shutdown drain must end (time.monotonic()): SHUTDOWN_DRAIN_SECONDS after the
# server began to stop (SIGTERM, SIGINT); None while it runs.
_deadline: float | None = None


def ensure_started() -> None:
    global _task
    if _task is not None and not _task.done():
        return
    _task = asyncio.get_running_loop().create_task(_flush_forever())
    _install_shutdown_drain()
    # Under daphne the accounts' checks start with the server (ccflare_site/asgi.py); on
    # other servers the first proxied request starts them with the rest.
    accounts_background.ensure_started()


async def read_ahead() -> None:
    """Read the accounts and the client keys now, before any request needs them.

    A worker reads them at its first /v1/ request otherwise; one whose database went away
    before that (a PostgreSQL restart minutes after the server's) had nothing to serve
    from, and refused every request with a 503 for as long as it was away, while a worker
    that had served kept going from its snapshot. A failed read is logged and tried again
    at the first request, as before.
    """
    await pool.accounts()
    await clientkeys.cache.authorize([])


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
    """Drain at shutdown: note when the server begins to stop, then write at exit.

    Daphne cancels in-flight requests in its 'before shutdown' phase (after letting
    them finish for up to SHUTDOWN_DRAIN_SECONDS, ccflare_site.tuning); their records
    are queued by then. Twisted does not wait for 'during' triggers, so the records
    are written at exit (atexit: no event loop, so the sync ORM works, and the
    recorder's and the pool's threads have finished their last writes), with retries
    until the drain's deadline.
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
        reactor.addSystemEventTrigger("before", "shutdown", _note_shutdown)  # type: ignore[arg-type]
        reactor.addSystemEventTrigger(
            "during",
            "shutdown",  # type: ignore[arg-type]
            lambda: defer.Deferred.fromFuture(asyncio.ensure_future(_final_drain())),
        )


def _note_shutdown() -> None:
    """The server begins to stop: the drain, request records included, ends by the deadline."""
    global _deadline
    _deadline = time.monotonic() + settings.SHUTDOWN_DRAIN_SECONDS


async def _final_drain() -> None:
    # No flush here: Twisted stops the loop without waiting for this, and a write
    # begun now would wait out a locked database's full busy timeout in the recorder's
    # thread before the exit drain could start (its retries end by the deadline).
    await upstream.close_session()


def _drain_sync() -> None:
    """Write what is pending, trying again while the database is away, until the deadline.

    The deadline is SHUTDOWN_DRAIN_SECONDS after the server began to stop; with no
    stop noticed (a process that served no daphne: a command, a test run) one try is
    made, as before. The first try always runs; each try waits for SQLite's lock no
    longer than the time left, so the process exits about when the drain's time is up.
    Records still pending then are counted in the log.
    """
    deadline = _deadline if _deadline is not None else time.monotonic()
    interval = settings.RECORDER_FLUSH_MS / 1000
    tries = 0
    while True:
        left = deadline - time.monotonic()
        _try_drain(lock_wait=left if tries else max(left, LAST_TRY_SECONDS))
        tries += 1
        left = deadline - time.monotonic()
        if not recorder.pending or left <= 0:
            break
        time.sleep(min(backoff_seconds(tries, interval), SHUTDOWN_MAX_BACKOFF_SECONDS, left))
    if recorder.pending:
        # The database stayed away to the end: say what is lost rather than lose it quietly.
        logger.error("recording.lost_at_shutdown count=%d", recorder.pending)


def _try_drain(*, lock_wait: float) -> None:
    try:
        with db_away.lock_wait_at_most(lock_wait):
            pool.flush_sync()
            recorder.flush_sync()
    except Exception:
        logger.exception("proxy.shutdown_drain_failed")
