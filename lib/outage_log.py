"""The log of an outage met by many requests: one line, then one a minute, whatever the traffic.

Each request a database outage fails would otherwise log its own line and traceback:
thousands a minute under load, which buried everything else in the log. Unlike
lib.reloading's FailureLog, nothing here sees the recovery (a request that worked may not
have asked the database), so a minute without failures ends an outage instead.
"""

import logging
import threading
import time
from collections.abc import Callable

REPEAT_LOG_SECONDS = 60.0


class OutageLog:
    """Logs `NAME path=... error=...`: the first failure of an outage as an ERROR with its
    traceback, then at most one WARNING line a minute with the failures not logged since
    (`suppressed=N`). Those after an outage's last line are counted at the next outage's
    start (`NAME_ended suppressed=N`). Safe to call from any thread."""

    def __init__(
        self, logger: logging.Logger, name: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._logger = logger
        self._name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._failed_at = float("-inf")
        self._logged_at = float("-inf")
        self._suppressed = 0

    def failed(self, *, path: str, error: object) -> None:
        """`error`: the exception (its traceback is logged once), or what failed."""
        with self._lock:
            now = self._clock()
            first = now - self._failed_at >= REPEAT_LOG_SECONDS
            self._failed_at = now
            if not first and now - self._logged_at < REPEAT_LOG_SECONDS:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._logged_at = self._suppressed, 0, now
        message = " ".join(str(error).split())  # PostgreSQL's reasons run over lines
        if first and suppressed:
            self._logger.warning("%s_ended suppressed=%d", self._name, suppressed)
        if first:
            traceback = error if isinstance(error, BaseException) else None
            self._logger.error("%s path=%s error=%s", self._name, path, message, exc_info=traceback)
            return
        self._logger.warning(
            "%s path=%s error=%s suppressed=%d", self._name, path, message, suppressed
        )
