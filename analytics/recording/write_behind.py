"""Write-behind recording of proxied requests: queue in memory, write in batches, publish.

The proxy hands over one RequestRecord of plain values per client request and never
waits: `enqueue` is a list append. `flush` (called by the proxy's background loop every
RECORDER_FLUSH_MS, as soon as FLUSH_BATCH records wait, right after a flush that outlasted
the tick, and at shutdown) prices the batch and builds its rows on the event loop, a
record at a time in the gaps between requests (prepare_in_gaps), writes them in one
transaction from a dedicated thread, bumps the account counters once per request, then
publishes the rows to the live channel group.

What a crash can lose: requests still in flight, and those queued or being written:
about RECORDER_FLUSH_MS of finished requests at light load (up to 1.6 times that while
the rows are built in the gaps between requests), about two flushes under full load.
Measured with bench/crash_window.py (SIGKILL under concurrency 32 on the 2-core
development machine, 3 runs): with flushes from 128 records, at about 4,800 req/s,
33-285 finished requests over the last 7-62 ms; from 32, at about 2,900 req/s, 52-94
over 14-27 ms; with flushes of 100 and executemany, 73-101 over 55-110 ms at half that
rate; when the loop waited a full tick after each flush, 340-546 over 204-393 ms. On a
machine three times slower, medians of 3 runs: at concurrency 32, 145 over the last
72 ms (155 over 122 ms before the rows were built on the loop); one request after
another, 126 over 162 ms (70 over 91 ms before).
"""

import asyncio
import base64
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, make_dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction

from access import credentials as access_services
from accounts.models import Account
from analytics.live import events
from analytics.models import Request, RequestPayload
from analytics.operations import logs, metrics
from analytics.recording import bulk, cost, redaction, storable
from analytics.recording.usage import NO_USAGE, Usage
from analytics.shapes import request_json
from lib import db_away

logger = logging.getLogger(__name__)

# A database outage (or a full disk) must not grow memory without bound: past this many
# unwritten records the oldest are dropped (and logged).
MAX_QUEUED = 50_000
# Nor past this many bytes of captured bodies waiting: Claude Code's run to half a MB a
# request, so 50,000 records could hold 20 GB (an audit saw 3.6 GB on a full disk).
# Past it the oldest waiting records let go of their bodies (the request row and the
# headers stay, the payload says truncated) until a quarter is free again.
MAX_QUEUED_BODY_BYTES = 256 * 1024 * 1024
# A line every this many records dropped, not one each (56,000 lines in that audit).
DROPS_PER_LOG_LINE = 1000
# A flush starts as soon as this many records wait, without waiting for the timer:
# under load the batches follow the arrival rate instead of piling up for a tick.
# Each flush costs a few hundred µs of the server's CPU whatever its size (the thread
# hand-offs, the commit, the GIL changing hands): from 32 to 128 a request took 3-7%
# less CPU under full load, for +0.25-0.4 ms at the 99th percentile of quick requests
# one at a time (docs/performance.md).
FLUSH_BATCH = 128
# Payload rows per INSERT at most: SQLite keeps a prepared statement's last bound values,
# so a statement of 128 captured bodies (half a MB each for Claude Code) would keep 64 MB.
PAYLOAD_ROWS = 32
# One transaction writes at most this many records, or this many bytes of captured bodies
# (a record past it goes in a transaction of its own). A flush under load is one such
# transaction. A backlog (the database away, the disk full) is written a part at a time:
# written whole, 7,000 records of 100 KB took about 600 MB of disk in one transaction, and
# freed space short of that was filled by the attempt and rolled back, every time.
WRITE_RECORDS = 1024
WRITE_BODY_BYTES = 8 * 1024 * 1024
# How long a flush's Python work looks for gaps between requests before it goes on
# anyway, as a share of RECORDER_FLUSH_MS: one after another, at about a thousand
# requests a second here, a hundred records took about half an interval of gaps.
PREPARE_PATIENCE = 0.6

# The database being away (locked past the busy timeout, the connection lost): a batch
# that fails so waits for the next flush. Any other failure is about what a record holds.
DATABASE_AWAY = db_away.AWAY

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")


@dataclass(slots=True)
class RequestRecord:
    id: str
    started_at: float  # epoch seconds
    method: str
    path: str
    account_id: Any = None
    status_code: int | None = None
    success: bool = False
    error_message: str | None = None
    terminal_state: str = Request.Terminal.COMPLETE
    is_stream: bool = False
    response_time_ms: int | None = None
    time_to_first_token_ms: int | None = None
    failover_attempts: int = 0
    routing_trace: list = field(default_factory=list)
    usage: Usage = NO_USAGE
    # Captured payload: raw headers (redacted here, off the response path), capped bodies.
    request_headers: list[tuple[bytes, bytes]] | None = None
    request_body: bytes | None = None
    response_headers: list[tuple[bytes, bytes]] | None = None
    response_body: bytes | None = None
    truncated: bool = False
    # The client key that sent the request, when client keys are on (access.clientkeys).
    client_key_id: int | None = None
    # Request arrival to upstream call, and upstream call to its response headers (metrics).
    overhead_ms: float | None = None
    upstream_ms: float | None = None
    # The Claude Code sub-agent detected (agents.override), and the model the client
    # asked for when its model was changed for the agent.
    agent_used: str | None = None
    original_model: str | None = None


class Recorder:
    def __init__(self) -> None:
        self._queue: list[RequestRecord] = []
        self._body_bytes = 0  # of the bodies captured in _queue
        self._dropped = 0  # records dropped since the start, past MAX_QUEUED
        # Flushes failed in a row because the database was away (0: the last one worked).
        self.failures = 0
        self._lock = threading.Lock()
        # Requests whose upstream headers arrived, announced at the next flush;
        # only touched on the event loop, so no lock.
        self._started: list[RequestRecord] = []
        # The background loop's wait for the next flush (wait_for_batch), woken early
        # by enqueue; only touched on the event loop.
        self._batch_waiter: asyncio.Future[None] | None = None
        # /v1/ requests in flight (a stream relaying its events no longer counts), and
        # the flush's wait for none (until_gap); only touched on the event loop.
        self._in_flight = 0
        self._idle_waiter: asyncio.Future[None] | None = None

    def request_began(self) -> None:
        self._in_flight += 1
        if self._in_flight == 2:
            self._wake_idle_waiter()  # a load with no gaps: until_gap stops waiting

    def request_ended(self) -> None:
        self._in_flight -= 1
        if not self._in_flight:
            self._wake_idle_waiter()

    def _wake_idle_waiter(self) -> None:
        waiter = self._idle_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def until_gap(self, deadline: float) -> bool:
        """Wait for a moment with no /v1/ request in flight: False if none comes by
        `deadline` (the loop's time), or at once when two or more are in flight (a load
        that leaves no gaps, and whose flushes must not be held back).

        First two turns of the loop go by: a request whose bytes came in meanwhile is
        read in the first, and its handler begins (counting itself in) in the second.
        """
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        while self._in_flight:
            remaining = deadline - loop.time()
            if self._in_flight > 1 or remaining <= 0:
                return False
            # One future for every flush waiting (the final drain can run beside the loop's).
            if self._idle_waiter is None or self._idle_waiter.done():
                self._idle_waiter = loop.create_future()
            await asyncio.wait([self._idle_waiter], timeout=remaining)
        return loop.time() < deadline

    async def prepare_in_gaps(
        self, batch: list[RequestRecord], table: cost.PriceTable
    ) -> "Prepared":
        """prepare() of the batch's first records, one at a time in the gaps between
        requests (until_gap), for PREPARE_PATIENCE of a flush interval at most; the
        thread does the rest.

        This is most of a flush's Python. In the recorder's thread it held the GIL for
        several milliseconds every flush, and each request that came meanwhile waited its
        turn for the GIL at every step: the tail of quick requests one after another
        (docs/performance.md). In a gap the next request waits for one record at most.
        Under load there is no gap, and the thread builds the rows as before.
        Built on the loop there in slices, they took 3-9% less CPU a request, but kept
        the server 17-21 MB larger after the load (A/B runs, docs/performance.md).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.RECORDER_FLUSH_MS * PREPARE_PATIENCE / 1000
        parts = []
        for record in batch:
            if not await self.until_gap(deadline):
                break
            parts.append(prepare([record], table))
        return joined(parts)

    def note_started(self, record: RequestRecord) -> None:
        """Announce a request live (SSE `start` event) at the next flush: a list append."""
        self._started.append(record)

    def enqueue(self, record: RequestRecord) -> None:
        """Queue a finished request for the next flush. Call it on the event loop."""
        with self._lock:
            self._queue.append(record)
            self._body_bytes += _body_size(record)
            if len(self._queue) > MAX_QUEUED or self._body_bytes > MAX_QUEUED_BODY_BYTES:
                self._bound_queue()
            queued = len(self._queue)
        waiter = self._batch_waiter
        if queued >= FLUSH_BATCH and waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_for_batch(self, *, at_most: float) -> None:
        """Return when FLUSH_BATCH records wait (at once if they already do), or after `at_most` s.

        Call it on the event loop; the background loop waits here between flushes.
        """
        if len(self._queue) >= FLUSH_BATCH:
            return
        self._batch_waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait([self._batch_waiter], timeout=at_most)
        finally:
            self._batch_waiter = None

    def _bound_queue(self) -> None:
        """Keep the waiting records within MAX_QUEUED and MAX_QUEUED_BODY_BYTES (under the lock)."""
        excess = len(self._queue) - MAX_QUEUED
        if excess > 0:
            self._body_bytes -= sum(map(_body_size, self._queue[:excess]))
            del self._queue[:excess]
            before, self._dropped = self._dropped, self._dropped + excess
            if before // DROPS_PER_LOG_LINE != self._dropped // DROPS_PER_LOG_LINE or not before:
                logger.error(
                    "recording.queue_overflow dropped=%d: the oldest unwritten records",
                    self._dropped,
                )
        if self._body_bytes > MAX_QUEUED_BODY_BYTES:
            self._shed_bodies()

    def _shed_bodies(self) -> None:
        target, shed = MAX_QUEUED_BODY_BYTES * 3 // 4, 0
        for record in self._queue:
            if self._body_bytes <= target:
                break
            size = _body_size(record)
            if size:
                record.request_body = record.response_body = None
                record.truncated = True
                self._body_bytes -= size
                shed += 1
        logger.warning(
            "recording.bodies_dropped count=%d waiting=%d: recording is behind (the database "
            "away or slow); the oldest captured bodies were let go, their records kept",
            shed,
            len(self._queue),
        )

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def flush(self) -> None:
        """Write everything queued so far, then publish it. Never raises."""
        if self._started:
            await self._publish_started()
        if not self._queue:
            return
        # The records stay queued while their rows are built: a shutdown that stops the
        # loop meanwhile leaves them to the final drain (flush_sync).
        # The first part's rows only: a backlog's would all be held at once.
        prepared = await self._prepared(next(parts(self._queue), []))
        batch = self._take()
        if prepared is not None and not prepared.begins(batch):
            prepared = None  # the queue changed meanwhile (another flush, records dropped)
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(_executor, self._write, batch, prepared)
        await events.publish_requests_logged(rows)

    async def _prepared(self, queued: list[RequestRecord]) -> "Prepared | None":
        """The rows of the first records worked out on the loop (prepare_in_gaps), or None
        for the thread to do it all: when no price table was read within
        PRICE_CACHE_SECONDS (the loop runs no query), or when a record's rows cannot be
        built (the thread's write then sorts the records out one by one, as for any
        batch that fails)."""
        table = cost.cached_table()
        if table is None:
            return None
        try:
            return await self.prepare_in_gaps(queued, table)
        except Exception:
            return None

    async def _publish_started(self) -> None:
        started, self._started = self._started, []
        if events.has_listeners():
            await events.publish_requests_started([start_row(record) for record in started])

    def flush_sync(self) -> list[dict]:
        """Write the queued batch; while the database is away, keep it for the next attempt.

        A batch that fails for anything else (the database refusing a value, text no
        encoding can write) is written one record at a time instead, so one bad record
        cannot hold back every record after it, for ever.
        """
        return self._write(self._take(), None)

    def _take(self) -> list[RequestRecord]:
        with self._lock:
            batch, self._queue, self._body_bytes = self._queue, [], 0
        return batch

    def _write(self, batch: list[RequestRecord], prepared: "Prepared | None") -> list[dict]:
        """Write the batch a part at a time (`parts`), `prepared` the rows of its first
        part; what is left when the database goes away waits for the next flush."""
        live: list[dict] = []
        done = 0
        for part in parts(batch):
            # Rows of more records than the part holds would be written twice.
            ready = prepared if prepared is not None and prepared.begins(part) else None
            written, rows, unwritten, stopped_by = write_part(part, ready)
            prepared = None
            if written:
                live += after_write(written, rows)
            done += len(part)
            if stopped_by is not None:
                self._keep(unwritten + batch[done:], stopped_by)
                return live
        if self.failures and batch:
            logger.warning("recording.flush_recovered after_failures=%d", self.failures)
            self.failures = 0
        return live

    def _keep(self, unwritten: list[RequestRecord], error: BaseException) -> None:
        """The database is away: keep the records for the next flush, which waits longer
        (proxy.background backs off) and logs one line, not a traceback, each time."""
        self.failures += 1
        if self.failures == 1:
            logger.error("recording.flush_failed count=%d", len(unwritten), exc_info=error)
        else:
            logger.error(
                "recording.flush_failed count=%d failures=%d error=%s",
                self.pending + len(unwritten),
                self.failures,
                type(error).__name__,
            )
        db_away.after_failure(error, self.failures)
        with self._lock:
            self._queue[:0] = unwritten
            self._body_bytes += sum(map(_body_size, unwritten))
            self._bound_queue()


def _body_size(record: RequestRecord) -> int:
    return len(record.request_body or b"") + len(record.response_body or b"")


@dataclass(slots=True)
class Prepared:
    """The rows of a batch's first records, and their column values as bulk.insert_values
    takes them."""

    records: list[RequestRecord]
    rows: list[Request]
    request_values: list[Any]
    payload_values: list[Any]

    def begins(self, batch: list[RequestRecord]) -> bool:
        """Whether these are the rows of `batch`'s first records."""
        return len(batch) >= len(self.records) and all(
            mine is theirs for mine, theirs in zip(self.records, batch, strict=False)
        )


def prepare(batch: list[RequestRecord], table: cost.PriceTable) -> Prepared:
    """Everything a batch's INSERTs need, worked out without the database."""
    rows = [to_request(record, table) for record in batch]
    payloads = [to_payload(record) for record in batch if record.request_headers is not None]
    return Prepared(
        records=batch,
        rows=rows,
        request_values=bulk.values(rows, Request),
        payload_values=bulk.values(payloads, RequestPayload),
    )


def joined(parts: list[Prepared]) -> Prepared:
    return Prepared(
        records=[record for part in parts for record in part.records],
        rows=[row for part in parts for row in part.rows],
        request_values=[value for part in parts for value in part.request_values],
        payload_values=[value for part in parts for value in part.payload_values],
    )


def write_batch(batch: list[RequestRecord], prepared: Prepared | None = None) -> list[Request]:
    """Insert requests and payloads and bump account counters, in one transaction.

    `prepared`: prepare() of the batch's first records, done on the event loop.
    """
    done = len(prepared.records) if prepared is not None else 0
    if prepared is None or done < len(batch):
        rest = prepare(batch[done:], cost.current_table())
        prepared = joined([prepared, rest]) if prepared is not None else rest
    tune_recorder_connection()
    with transaction.atomic():
        bulk.insert_values(Request, prepared.request_values)
        bulk.insert_values(RequestPayload, prepared.payload_values, most=PAYLOAD_ROWS)
        bump_account_counters(batch)
        access_services.touch_client_keys(client_keys_used(batch))
    # After the write: its rows may have been priced by the table a price saved elsewhere
    # replaced.
    cost.reprice_if_changed()
    return prepared.rows


# The SQLite connection last tuned for the recorder.
_tuned: object = None


def tune_recorder_connection() -> None:
    """Tune this connection for the recorder's writes, as the recorder's alone is (SQLite).

    - Temporary data in memory: the multi-row INSERTs inside a transaction keep a
      statement journal, otherwise in a file created, written and deleted per flush. The
      other connections keep theirs in files (settings.py): there a report's sort of a
      long history took memory without bound.
    - CHECK constraints not evaluated: Django's JSONField puts `JSON_VALID` on each JSON
      column, and SQLite parsed every payload again on insert, 215 µs for a 256 KB
      capture (docs/performance.md). Everything this connection writes is built here:
      the payload's JSON by to_payload (its tests parse it for any headers and bodies),
      the routing trace by json.dumps, counters that only go up. Other connections
      (the admin, the API) keep every constraint.

    Two PRAGMAs for each new connection, an identity check per flush.
    """
    global _tuned
    # SQLite refuses to change temp_store inside a transaction once temporary storage is open.
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    connection.ensure_connection()
    raw = connection.connection
    if raw is not _tuned:
        raw.execute("PRAGMA temp_store=MEMORY")
        raw.execute("PRAGMA ignore_check_constraints=ON")
        _tuned = raw


def parts(batch: list[RequestRecord]) -> Iterator[list[RequestRecord]]:
    """The batch in runs of at most WRITE_RECORDS records and WRITE_BODY_BYTES of bodies
    (a record larger than that alone); nothing for an empty batch."""
    start, size = 0, 0
    for index, record in enumerate(batch):
        body = _body_size(record)
        if index > start and (index - start >= WRITE_RECORDS or size + body > WRITE_BODY_BYTES):
            yield batch[start:index]
            start, size = index, 0
        size += body
    if start < len(batch):
        yield batch[start:]


Written = tuple[list[RequestRecord], list[Request], list[RequestRecord], BaseException | None]


def write_part(part: list[RequestRecord], prepared: "Prepared | None") -> Written:
    """One transaction (write_batch) or, if the database refuses it, one per record: the
    records written, their rows, and the unwritten with the error that left them so."""
    try:
        return part, write_batch(part, prepared), [], None
    except DATABASE_AWAY as away:
        return [], [], part, away
    except IntegrityError:
        if (found := _written_already(part)) is not None:
            return found
        logger.exception("recording.batch_refused count=%d", len(part))
        return write_one_by_one(part)
    except Exception:
        logger.exception("recording.batch_refused count=%d", len(part))
        return write_one_by_one(part)


def _written_already(part: list[RequestRecord]) -> Written | None:
    """The part written, when some of its records were already: a commit whose answer the
    connection lost (PostgreSQL cut at COMMIT) wrote them, and this retry met their ids.
    None when none of them was (the refusal is about what a record holds)."""
    ids = Request.objects.filter(pk__in=[record.id for record in part]).values_list("pk")
    there = {str(pk) for (pk,) in ids}
    if not there:
        return None
    logger.info("recording.written_already count=%d", len(there))
    written = [record for record in part if record.id in there]
    rest = [record for record in part if record.id not in there]
    # Their rows as the write made them, for the metrics, log lines and live events.
    rows = prepare(written, cost.current_table()).rows
    if not rest:
        return written, rows, [], None
    more, more_rows, unwritten, error = write_part(rest, None)
    return [*written, *more], [*rows, *more_rows], unwritten, error


def write_one_by_one(
    batch: list[RequestRecord],
) -> Written:
    """Each record in its own transaction: the records written, their rows, and the
    unwritten with the error that left them so.

    A record that fails is tried once more with its text made storable; one that fails
    again is logged and dropped (a duplicate id, a number no column holds). If the
    database goes away meanwhile, the records from there on are the unwritten.
    """
    written: list[RequestRecord] = []
    rows: list[Request] = []
    for index, record in enumerate(batch):
        try:
            rows += _write_storable(record)
        except DATABASE_AWAY as error:
            return written, rows, batch[index:], error
        except Exception:
            logger.exception("recording.record_dropped id=%s", record.id)
            continue
        written.append(record)
    return written, rows, [], None


def _write_storable(record: RequestRecord) -> list[Request]:
    try:
        return write_batch([record])
    except DATABASE_AWAY:
        raise
    except Exception:
        cleaned = storable.record(record)
        if cleaned is record:
            raise
        logger.warning("recording.record_cleaned id=%s", record.id)
        return write_batch([cleaned])


def after_write(batch: list[RequestRecord], rows: list[Request]) -> list[dict]:
    """Metrics and log lines for what was written, and the rows for live listeners (none
    are built when nobody listens). A failure here never rewrites a row."""
    try:
        metrics.observe(batch)
        with logs.lines_held():
            log_requests(rows)
    except Exception:
        logger.exception("recording.after_write_failed")
    return [request_json(row) for row in rows] if events.has_listeners() else []


def log_requests(rows: list[Request]) -> None:
    """One INFO line per request, as the original ccflare printed (off the response path)."""
    if not settings.LOG_REQUESTS or not logger.isEnabledFor(logging.INFO):
        return
    ids = {row.account_id for row in rows if row.account_id is not None}
    names: dict[uuid.UUID | None, str] = (
        dict(Account.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    )
    logs.info_lines(
        logger,
        [
            _REQUEST_LINE
            % (
                row.method,
                row.path,
                names.get(row.account_id, "-"),
                row.model or "-",
                row.status_code,
                row.input_tokens or 0,
                row.output_tokens or 0,
                "unpriced" if row.cost_usd is None else f"${row.cost_usd:.6f}",
                row.response_time_ms,
            )
            for row in rows
        ],
    )


_REQUEST_LINE = "request %s %s account=%s model=%s status=%s tokens=%d/%d cost=%s ms=%s"


def start_row(record: RequestRecord) -> dict:
    """A request whose upstream headers arrived, as the stream's `start` event (docs/api.md)."""
    return {
        "id": record.id,
        "timestamp": int(record.started_at * 1000),
        "method": record.method,
        "path": record.path,
        "accountId": str(record.account_id) if record.account_id else None,
        "statusCode": record.status_code,
        "agentUsed": record.agent_used,
    }


def client_keys_used(batch: list[RequestRecord]) -> dict[int, datetime]:
    """Each client key in the batch and when it was last used."""
    used: dict[int, datetime] = {}
    for record in batch:
        if record.client_key_id is not None:
            when = datetime.fromtimestamp(record.started_at, tz=UTC)
            used[record.client_key_id] = max(when, used.get(record.client_key_id, when))
    return used


def _row_type(model: type[models.Model]) -> type:
    """A slotted class with one attribute per column of `model`, all required.

    The recorder's rows: built several times faster than Model instances (whose
    __init__ also sends pre_init and post_init), stored by bulk.insert exactly as the
    ORM would store them, and read like them by request_json and the log line. All
    required, so a column added to the model without a value here fails every test.
    """
    names = [field.attname for field in model._meta.concrete_fields]
    return make_dataclass(f"{model.__name__}Row", names, slots=True)


if TYPE_CHECKING:
    RequestRow = Request  # the same attributes, as far as readers are concerned
else:
    RequestRow = _row_type(Request)


def to_request(record: RequestRecord, table: cost.PriceTable) -> Request:
    started = datetime.fromtimestamp(record.started_at, tz=UTC)
    columns = record.usage.columns()
    if columns["model"] is not None:
        columns["model"] = storable.text(columns["model"])[:128]
    request = RequestRow(
        id=record.id,
        timestamp=started,
        method=storable.text(record.method)[:10],
        path=storable.text(record.path)[:512],
        account_id=record.account_id,
        status_code=record.status_code,
        success=record.success,
        # An upstream's message may echo the credential it was sent.
        error_message=record.error_message
        and logs.redact_credentials(storable.text(record.error_message)),
        terminal_state=record.terminal_state,
        is_stream=record.is_stream,
        response_time_ms=record.response_time_ms,
        time_to_first_token_ms=record.time_to_first_token_ms,
        failover_attempts=record.failover_attempts,
        routing_trace=record.routing_trace,
        client_key_id=record.client_key_id,
        agent_used=record.agent_used and storable.text(record.agent_used)[:128],
        original_model=record.original_model and storable.text(record.original_model)[:128],
        cost_usd=None,
        unpriced=False,
        **columns,
    )
    cost.apply_cost(request, table)
    return request


@dataclass(slots=True)
class PayloadRow:
    """A RequestPayload row for bulk.insert, without a Model instance's cost."""

    request_id: str
    data: bulk.RawJSON


def to_payload(record: RequestRecord) -> PayloadRow:
    """The payload in ccflare's shape (docs/api.md), written as JSON text around the bodies.

    The bodies' base64 is JSON as it is (letters, digits, + / =): put in place, it skips
    json.dumps escaping every character of it, 0.4 ms of the GIL for a 256 KB capture.
    The headers (any text) are JSON-escaped by `redaction.headers_json`; tests check the
    text against the shape for any headers and bodies.
    """
    account = str(record.account_id) if record.account_id else "no_account"
    text = "".join(
        (
            '{"request":{"headers":',
            redaction.headers_json(record.request_headers),
            *_body(record.request_body),
            '},"response":{"status":',
            "null" if record.status_code is None else str(int(record.status_code)),
            ',"headers":',
            redaction.headers_json(record.response_headers),
            *_body(record.response_body),
            # An account id is a UUID (or the word): nothing in it to escape.
            '},"meta":{"accountId":"',
            account,
            '","timestamp":',
            str(int(record.started_at * 1000)),
            ',"success":',
            _JSON_BOOLEAN[bool(record.success)],
            ',"isStream":',
            _JSON_BOOLEAN[bool(record.is_stream)],
            ',"retry":0,"truncated":',
            _JSON_BOOLEAN[bool(record.truncated)],
            "}}",
        )
    )
    return PayloadRow(request_id=record.id, data=bulk.RawJSON(text))


_JSON_BOOLEAN = {True: "true", False: "false"}


def _body(body: bytes | None) -> tuple[str, ...]:
    """A captured body's member: its base64 in quotes, or null when there is none.

    In pieces for the caller's join: a 256 KB body's text is copied once, not twice.
    """
    if not body:
        return (',"body":null',)
    return (',"body":"', base64.b64encode(body).decode(), '"')


def bump_account_counters(batch: list[RequestRecord]) -> None:
    """One increment per served request (ccflare counted every request twice)."""
    served: dict[Any, list[float]] = defaultdict(list)
    for record in batch:
        if record.account_id is not None:
            served[record.account_id].append(record.started_at)
    if not served:
        return
    last_used, pk = Account._meta.get_field("last_used"), Account._meta.pk
    assert pk is not None
    params = [
        (
            *[len(starts)] * 3,
            last_used.get_db_prep_save(datetime.fromtimestamp(max(starts), tz=UTC), connection),
            pk.get_db_prep_save(account_id, connection),
        )
        for account_id, starts in served.items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_bump_sql(), params)


@cache
def _bump_sql() -> str:
    """The counters' UPDATE, written once: the ORM's compiled it anew for every batch,
    which was most of a small batch's fixed cost (docs/performance.md)."""
    quote, meta = connection.ops.quote_name, Account._meta
    counters = ("request_count", "total_requests", "session_request_count")
    assert meta.pk is not None
    # Each counter has its own parameter: named ones are not portable across backends.
    increments = ", ".join(f"{quote(name)} = {quote(name)} + %s" for name in counters)
    last_used = quote(meta.get_field("last_used").column)
    return (
        f"UPDATE {quote(meta.db_table)} SET {increments}, {last_used} = %s "
        f"WHERE {quote(meta.pk.column)} = %s"
    )


recorder = Recorder()
