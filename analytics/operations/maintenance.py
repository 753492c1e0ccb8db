"""Keeping the database small: retention cleanup, compaction, reset and clear.

Used by the API, the management commands and the periodic cleanup that the
proxy's background loop schedules (`schedule_cleanup`), so all apply the same
rules. Deletes are set-based statements over keys read in batches: retention can
remove months of rows at once, and must neither load them into memory nor hold the
database's write lock all that time.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from analytics.models import Request, RequestPayload
from analytics.operations import logs, runtime
from analytics.reporting import report_cache

logger = logging.getLogger(__name__)

# Rows per transaction of a cleanup (about 0.2 s of SQLite's write lock for payloads of
# 20 KB), and the pause after each, which lets the waiting writers in.
DELETE_BATCH = 2000
BATCH_PAUSE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class CleanupResult:
    removed_requests: int
    removed_payloads: int
    cutoff: datetime


def cleanup(*, now: datetime | None = None) -> CleanupResult:
    """Apply retention (README, Logs and maintenance).

    1. Delete payloads of requests older than the payload window.
    2. Delete payloads of requests older than the request window, then those requests.
    The reported cutoff is now minus the shorter of the two windows.

    In transactions of DELETE_BATCH rows, with a pause between them: one transaction held
    SQLite's write lock for as long as the whole deletion took (11 s for 100,000
    payloads of 20 KB), and the recorder, the pool's flush and the API's writes failed
    their busy timeout meanwhile.
    """
    now = now or timezone.now()
    payload_days = runtime.retention_days("data_retention_days")
    request_days = runtime.retention_days("request_retention_days")
    payload_cutoff = now - timedelta(days=payload_days)
    request_cutoff = now - timedelta(days=request_days)
    removed_payloads = _delete_in_batches(
        RequestPayload.objects.filter(request__timestamp__lt=max(payload_cutoff, request_cutoff))
    )
    removed_requests = _delete_in_batches(Request.objects.filter(timestamp__lt=request_cutoff))
    if removed_requests:
        report_cache.forget()
    logger.info(
        "maintenance.cleanup removed_requests=%d removed_payloads=%d",
        removed_requests,
        removed_payloads,
    )
    return CleanupResult(
        removed_requests, removed_payloads, now - timedelta(days=min(payload_days, request_days))
    )


def _delete_in_batches(queryset: QuerySet) -> int:
    """Delete what `queryset` matches, DELETE_BATCH rows per transaction; returns the count.

    Requests go with their payloads, in the same transaction: a reset under traffic
    deleted every payload first, then the recorder wrote a request with its payload,
    and the batch that deleted that request broke the payload's foreign key (the reset
    failed with a 500, the history's payloads gone and its requests kept).
    """
    removed = 0
    while True:
        with transaction.atomic():
            keys = list(queryset.values_list("pk", flat=True)[:DELETE_BATCH])
            if keys and queryset.model is Request:
                _raw_delete(RequestPayload.objects.filter(pk__in=keys))
            if keys:
                removed += _raw_delete(queryset.model.objects.filter(pk__in=keys))
        if len(keys) < DELETE_BATCH:
            return removed
        time.sleep(BATCH_PAUSE_SECONDS)  # the other writers' turn


def _raw_delete(batch: QuerySet) -> int:
    """One DELETE statement, not the ORM's collector, which loads every row to look for
    dependants (a request's payload is deleted with it, so nothing cascades)."""
    return batch._raw_delete(batch.db)


def compact() -> None:
    """Give freed space back to the OS: VACUUM on SQLite, VACUUM ANALYZE on PostgreSQL.

    Must run outside a transaction (both engines refuse VACUUM inside one).
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            _vacuum_sqlite(cursor)
        else:
            cursor.execute("VACUUM ANALYZE")
    logger.info("maintenance.compact vendor=%s", connection.vendor)


def _vacuum_sqlite(cursor: Any) -> None:
    """VACUUM with its copy of the database in a temporary file, then the WAL emptied.

    VACUUM builds its copy of the whole database in the connection's temporary storage:
    in memory (temp_store=MEMORY, which the recorder's connection alone has now) that was
    1.15 GB resident for a 1.3 GB database (10 MB in a file), in the server's own process
    when the dashboard asks. VACUUM also writes every page through the WAL, which then
    stayed as large as the database: compacting took more disk than it gave back.
    """
    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cursor.execute("PRAGMA temp_store=FILE")
    cursor.execute("VACUUM")
    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def clear_history() -> int:
    """Delete every recorded request and its payload; returns the number of requests."""
    _delete_in_batches(RequestPayload.objects.all())
    removed = _delete_in_batches(Request.objects.all())
    report_cache.forget()
    return removed


def reset_stats() -> int:
    """Clear the history and zero the accounts' resettable counters (POST /api/stats/reset)."""
    removed = clear_history()
    # Requests recorded while the history was being deleted are rows now: the counters
    # start from them, or rows and counters would stay apart for good (the recorder adds
    # to both from then on).
    recorded = Request.objects.filter(account=OuterRef("pk"))
    Account.objects.update(
        request_count=_count(recorded),
        session_request_count=_count(recorded.filter(timestamp__gte=OuterRef("session_start"))),
    )
    return removed


def _count(requests: QuerySet[Request]) -> Coalesce:
    """The number of `requests`, as a subquery per account (0 for none)."""
    counted = requests.order_by().values("account").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


class PeriodicCleanup:
    """Runs `cleanup` every CLEANUP_INTERVAL_SECONDS in a thread, never on the caller's time."""

    def __init__(self) -> None:
        self._next_at = 0.0
        self._running: asyncio.Future | None = None

    def schedule(self) -> None:
        """Start a cleanup in the background if one is due; returns at once (on the loop)."""
        # This runs on the server's loop: log records from threads are published there.
        logs.attach_loop(asyncio.get_running_loop())
        now = time.monotonic()
        if now < self._next_at or (self._running is not None and not self._running.done()):
            return
        self._next_at = now + settings.CLEANUP_INTERVAL_SECONDS
        self._running = asyncio.get_running_loop().run_in_executor(None, _cleanup_quietly)


def _cleanup_quietly() -> None:
    try:
        cleanup()
    except Exception:
        logger.exception("maintenance.cleanup_failed")
    finally:
        # A pool thread: do not leave its connection open until the next hour.
        connection.close()


periodic = PeriodicCleanup()
