"""A snapshot read per request and reloaded from the database when it is stale.

The account pool, the client keys and the agents registry keep one each. What they share:

- concurrent callers share one reload (lib.shared_run);
- a reload that fails keeps the last snapshot, which the proxy serves from while the
  database is away; the failure is logged once with its traceback, then one line a
  minute with the count, and once more when a reload works again (one traceback a
  second per process flooded the log during an outage);
- a reload that hangs (a PostgreSQL that stopped answering without closing its
  connections) holds its callers at most WAIT_SECONDS, once: until it ends, callers go
  on with the last snapshot at once. Every request used to wait for the database to
  come back. Only a first load, with nothing to serve from yet, is waited for.
"""

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async

from lib import db_away
from lib.shared_run import SharedRun

WAIT_SECONDS = 0.5
REPEAT_LOG_SECONDS = 60.0


class Reloader:
    def __init__(
        self,
        load: Callable[[], Awaitable[None]],
        *,
        max_age: Callable[[], float],
        logger: logging.Logger,
        name: str,
    ) -> None:
        """`load` replaces the caller's snapshot or raises; `name` names it in the log."""
        self._load = load
        self._max_age = max_age
        self._run = SharedRun(self._attempt)
        self._loaded_at = float("-inf")
        self._loaded_once = False
        self._hanging = False
        # Bumped by invalidate: a load that began before a change does not count as fresh.
        self._generation = 0
        self._failures = FailureLog(logger, name)

    async def fresh(self) -> None:
        """Reload first if the snapshot is stale, within the limits above."""
        if time.monotonic() - self._loaded_at <= self._max_age() or self._hanging:
            return
        if not self._loaded_once:
            await self._run.run()
            return
        try:
            await asyncio.wait_for(self._run.run(), WAIT_SECONDS)
        except TimeoutError:
            self._hanging = True
            self._failures.logger.warning(
                "%s_slow after=%.1fs: serving the last snapshot meanwhile",
                self._failures.name,
                WAIT_SECONDS,
            )

    @property
    def loaded(self) -> bool:
        """Whether a load has worked yet: until one has, there is no snapshot to serve from."""
        return self._loaded_once

    def invalidate(self) -> None:
        """Reload at the next call (a change made here, or a test)."""
        self._generation += 1
        self._loaded_at = float("-inf")

    async def _attempt(self) -> None:
        generation = self._generation
        try:
            await self._load()
        except Exception:
            self._failures.failed()
        else:
            self._failures.ok()
            self._loaded_once = True
        finally:
            self._hanging = False
            if generation == self._generation:
                self._loaded_at = time.monotonic()


class FailureLog:
    """One traceback for the first of a run of failures, then a line a minute, then 'back'.

    Logs `NAME_failed` and, after a run of failures, `NAME_recovered`.
    """

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self.logger = logger
        self.name = name
        self.count = 0  # failures in a row
        self._logged_at = float("-inf")

    def failed(self) -> None:
        """Call from the `except` block of the failure."""
        self.count += 1
        now = time.monotonic()
        if self.count == 1:
            self.logger.exception("%s_failed", self.name)
        elif now - self._logged_at >= REPEAT_LOG_SECONDS:
            error = sys.exc_info()[1]
            self.logger.warning("%s_failed failures=%d error=%s", self.name, self.count, error)
        else:
            return
        self._logged_at = now

    def ok(self) -> None:
        if self.count:
            self.logger.info("%s_recovered failures=%d", self.name, self.count)
        self.count = 0


async def repeat_forever(
    work: Callable[[], Awaitable[object]], *, every: float, logger: logging.Logger, name: str
) -> None:
    """Run `work` every `every` seconds for good, its database connection checked first.

    A failure (the database away for a moment) is logged as a FailureLog logs it and
    does not end the loop.
    """
    failures = FailureLog(logger, name)
    while True:
        try:
            await sync_to_async(db_away.check_connection)()
            await work()
        except Exception:
            failures.failed()
        else:
            failures.ok()
        await asyncio.sleep(every)
