"""The recorder never lets one bad record hold back the others, and stores hostile text safely."""

import base64
import datetime
import io
import json
import logging
import os
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import InternalError, OperationalError, connection
from hypothesis import given
from hypothesis import strategies as st

from analytics.live import events
from analytics.models import ModelPrice, Request
from analytics.operations import logs
from analytics.recording import cost, write_behind
from analytics.recording.redaction import redact_headers
from analytics.recording.usage import Usage
from proxy.usage import MAX_COUNT, UsageTracker
from tests.factories import make_account, make_record

pytestmark = pytest.mark.django_db(transaction=True)


record = make_record


def test_a_record_the_database_refuses_is_dropped_and_the_rest_written() -> None:
    recorder = write_behind.Recorder()
    first = record()
    recorder.enqueue(first)
    recorder.flush_sync()
    duplicate, fresh = record(id=first.id), record()
    recorder.enqueue(duplicate)
    recorder.enqueue(fresh)

    recorder.flush_sync()

    assert Request.objects.filter(pk=fresh.id).exists()
    assert Request.objects.count() == 2
    assert recorder.pending == 0  # not retried for ever


def test_nul_and_over_long_text_is_stored_not_refused() -> None:
    recorder = write_behind.Recorder()
    hostile = record(
        method="PROPFINDXYZW",
        path="/v1/messages\x00",
        error_message="bad\x00reply",
        usage=Usage(model="claude\x00" + "x" * 300),
    )
    recorder.enqueue(hostile)

    recorder.flush_sync()

    row = Request.objects.get(pk=hostile.id)
    assert row.path == "/v1/messages\ufffd"
    assert row.error_message == "bad\ufffdreply"
    assert row.model.startswith("claude\ufffd") and len(row.model) == 128
    assert row.method == "PROPFINDXY"


@pytest.mark.parametrize(
    ("message", "stored"),
    [
        ("Key sk-ant-api03-echoed-key-0001 may not", "Key [REDACTED] may not"),
        ("token cck_echoed-client-key rejected", "token [REDACTED] rejected"),
        ("sent Bearer abcdefgh12345678", "sent Bearer [REDACTED]"),
        # Sentences whose labels the log's other rules read as credentials stay whole.
        (
            "This ccflare proxy requires a client key: send it as x-api-key or "
            "Authorization: Bearer",
            "This ccflare proxy requires a client key: send it as x-api-key or "
            "Authorization: Bearer",
        ),
        ("tools.0.secret: Field required", "tools.0.secret: Field required"),
    ],
)
def test_credentials_in_an_error_message_are_redacted_and_nothing_else(
    message: str, stored: str
) -> None:
    recorder = write_behind.Recorder()
    failed = record(status_code=400, error_message=message)
    recorder.enqueue(failed)

    recorder.flush_sync()

    assert Request.objects.get(pk=failed.id).error_message == stored


def test_text_no_encoding_can_write_is_stored_and_holds_back_nothing() -> None:
    # A lone surrogate: what Python's JSON decoder makes of "\\udc80" in a reply. It once
    # failed every flush from then on, for ever, with every later record queued behind it.
    recorder = write_behind.Recorder()
    before, after = record(), record()
    lone = record(
        usage=Usage(model="claude-\udc80"),
        error_message="bad \ud800 reply",
        routing_trace=[{"account": "alpha", "outcome": "upstream said \udc80"}],
    )
    for each in (before, lone, after):
        recorder.enqueue(each)

    recorder.flush_sync()

    assert recorder.pending == 0
    assert Request.objects.count() == 3
    row = Request.objects.get(pk=lone.id)
    assert (row.model, row.error_message) == ("claude-\ufffd", "bad \ufffd reply")
    # SQLite keeps it as the JSON escape it came as; PostgreSQL refuses that, so the
    # record's second try stores the replacement character.
    assert row.routing_trace[0]["outcome"] in ("upstream said \udc80", "upstream said \ufffd")


def test_a_record_no_column_can_hold_is_dropped_the_rest_written() -> None:
    recorder = write_behind.Recorder()
    good, huge = record(), record(response_time_ms=10**30)  # no integer column holds it
    recorder.enqueue(huge)
    recorder.enqueue(good)

    recorder.flush_sync()

    assert list(Request.objects.values_list("pk", flat=True)) == [uuid.UUID(good.id)]
    assert recorder.pending == 0


def database_away(
    monkeypatch: pytest.MonkeyPatch, message: str, error: type[Exception] = OperationalError
) -> None:
    """Every batch write fails as the database being away does, until monkeypatch.undo()."""

    def away(batch: list) -> list:
        raise error(message)

    monkeypatch.setattr(write_behind, "write_batch", away)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (OperationalError, "database is locked"),
        # PostgreSQL turned read-only (a cloud database whose disk filled): each record was
        # tried alone, refused, and dropped for good.
        (InternalError, "cannot execute INSERT in a read-only transaction"),
    ],
)
def test_while_the_database_is_away_the_batch_waits_whole(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception], message: str
) -> None:
    recorder = write_behind.Recorder()
    batch = [record(), record()]
    for each in batch:
        recorder.enqueue(each)

    database_away(monkeypatch, message, error)
    recorder.flush_sync()
    assert recorder.pending == 2 and Request.objects.count() == 0
    monkeypatch.undo()

    recorder.flush_sync()
    assert Request.objects.count() == 2 and recorder.pending == 0


def test_the_records_after_the_database_went_away_wait_the_ones_before_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = write_behind.Recorder()
    first, refused, later = record(), record(), record()
    for each in (first, refused, later):
        recorder.enqueue(each)
    real = write_behind.write_batch

    def flaky(records: list) -> list:
        if len(records) > 1 or records[0] is refused:
            raise ValueError("a value the database refuses")  # the batch goes one by one
        if records[0] is later:
            raise OperationalError("the database went away")
        return real(records)

    monkeypatch.setattr(write_behind, "write_batch", flaky)
    recorder.flush_sync()

    assert list(Request.objects.values_list("pk", flat=True)) == [uuid.UUID(first.id)]
    assert recorder.pending == 1  # `later`, for the next flush; `refused` dropped, once


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own page limit")
def test_a_full_database_given_room_for_part_of_the_backlog_takes_that_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A full disk with room freed for part of the backlog: written whole, the backlog
    # filled it every time and rolled back, and nothing was ever written. A real
    # SQLITE_FULL here: the database may not grow past max_page_count.
    monkeypatch.setattr(write_behind, "WRITE_BODY_BYTES", 64 * 1024)
    recorder = write_behind.Recorder()
    for _ in range(30):
        recorder.enqueue(record(request_headers=[], request_body=os.urandom(16 * 1024)))
    pages = page_count()
    limit_pages(pages)
    recorder.flush_sync()  # full: nothing fits
    assert recorder.pending == 30

    limit_pages(pages + 80)  # room for about a third of the backlog
    recorder.flush_sync()
    assert 0 < Request.objects.count() < 30
    assert Request.objects.count() + recorder.pending == 30

    limit_pages(10**9)
    recorder.flush_sync()
    assert (Request.objects.count(), recorder.pending) == (30, 0)


def page_count() -> int:
    """The database's pages, none of them free (VACUUM gives the free ones back)."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA page_count")
        return cursor.fetchone()[0]


def limit_pages(pages: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA max_page_count = {pages}")


def test_the_parts_after_the_database_went_away_wait_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(write_behind, "WRITE_RECORDS", 2)
    real, written = write_behind.write_batch, []

    def away_after_one_part(records: list, prepared: Any = None) -> list:
        if written:
            raise OperationalError("database is locked")
        written.extend(records)
        return real(records, prepared)

    monkeypatch.setattr(write_behind, "write_batch", away_after_one_part)
    recorder = write_behind.Recorder()
    batch = [record() for _ in range(5)]
    for each in batch:
        recorder.enqueue(each)

    recorder.flush_sync()

    assert written == batch[:2] and Request.objects.count() == 2
    assert recorder._take() == batch[2:]


def test_rows_prepared_for_more_records_than_the_first_part_holds_are_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(write_behind, "WRITE_RECORDS", 2)
    batch = [record() for _ in range(3)]
    prepared = write_behind.prepare(batch, cost.current_table())

    write_behind.Recorder()._write(batch, prepared)

    assert Request.objects.count() == 3
    assert "batch_refused" not in caplog.text  # the third record's row, written twice


def test_a_part_holds_at_most_its_records_and_bytes_of_bodies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(write_behind, "WRITE_RECORDS", 3)
    monkeypatch.setattr(write_behind, "WRITE_BODY_BYTES", 100)
    small, large = b"x" * 40, b"x" * 150
    batch = [record(request_body=body) for body in (small, small, small, large, None, None)]
    batch += [record() for _ in range(4)]

    sizes = [len(part) for part in write_behind.parts(batch)]

    # Two small bodies fit, the large one goes alone, then three records at most.
    assert sizes == [2, 1, 1, 3, 3]
    assert list(write_behind.parts([])) == []


def test_the_largest_counts_a_reply_may_claim_are_stored_and_priced_within_the_columns() -> None:
    # A reply claiming 10**15 tokens (or a price mistyped in the admin) was priced past
    # what cost_usd holds: SQLite stored it, and every list that read the row failed with
    # a 500. PostgreSQL's token columns are 32-bit and refuse a count past 2**31 - 1.
    rate = Decimal("999999.999999")  # the most the admin's price form takes
    ModelPrice.objects.create(
        model="claude-mistyped-1",
        effective_from=datetime.date(2020, 1, 1),
        **dict.fromkeys(PRICE_COLUMNS, rate),
    )
    cost.invalidate()
    largest = MAX_COUNT - 1
    assert 4 * largest <= 2**31 - 1  # a row's total_tokens, in PostgreSQL's INTEGER
    stored, ignored = (record(usage=claimed(count)) for count in (largest, MAX_COUNT))
    recorder = write_behind.Recorder()
    recorder.enqueue(stored)
    recorder.enqueue(ignored)

    recorder.flush_sync()

    rows = {str(row.pk): row for row in Request.objects.all()}  # each row reads back
    assert (rows[stored.id].total_tokens, rows[stored.id].cost_usd) == (4 * largest, cost.MAX_COST)
    assert rows[ignored.id].total_tokens == 0


PRICE_COLUMNS = ("input_usd", "cache_write_5m_usd", "cache_write_1h_usd", "cache_read_usd")
PRICE_COLUMNS += ("output_usd",)


def claimed(count: int) -> Usage:
    """What the proxy makes of a reply that claims `count` tokens of each kind."""
    kinds = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    usage = dict.fromkeys((*kinds, "output_tokens"), count)
    tracker = UsageTracker()
    tracker.on_json_body(
        json.dumps({"type": "message", "model": "claude-mistyped-1", "usage": usage}).encode()
    )
    return tracker.snapshot()


def test_a_usage_value_fills_every_token_column() -> None:
    usage = Usage(
        model="claude-sonnet-4-6",
        input_tokens=10,
        cache_read_input_tokens=20,
        cache_creation_input_tokens=30,
        cache_creation_5m_tokens=10,
        cache_creation_1h_tokens=20,
        output_tokens=5,
        output_tokens_per_second=2.5,
    )
    recorder = write_behind.Recorder()
    done = record(usage=usage)
    recorder.enqueue(done)

    recorder.flush_sync()

    row = Request.objects.get(pk=done.id)
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (60, 5, 65)
    assert (row.cache_creation_5m_tokens, row.cache_creation_1h_tokens) == (10, 20)
    assert row.output_tokens_per_second == 2.5


def test_account_counters_grow_by_the_requests_each_account_served() -> None:
    recorder = write_behind.Recorder()
    busy, quiet = make_account(name="busy"), make_account(name="quiet")
    started = time.time()
    for offset in range(3):
        recorder.enqueue(record(account_id=busy.pk, started_at=started + offset))
    recorder.enqueue(record(account_id=quiet.pk, started_at=started))
    recorder.enqueue(record())  # rejected before any account: counts for none

    recorder.flush_sync()
    recorder.enqueue(record(account_id=busy.pk, started_at=started + 10))
    recorder.flush_sync()

    busy.refresh_from_db()
    quiet.refresh_from_db()
    assert (busy.request_count, busy.total_requests, busy.session_request_count) == (4, 4, 4)
    assert (quiet.request_count, quiet.total_requests, quiet.session_request_count) == (1, 1, 1)
    assert busy.last_used is not None and busy.last_used.timestamp() == pytest.approx(started + 10)


async def test_live_rows_are_built_only_while_someone_listens() -> None:
    # The one-process channel layer knows its group is empty: nothing to build for nobody.
    layer = get_channel_layer()
    recorder = write_behind.Recorder()
    recorder.enqueue(record())

    unheard = await sync_to_async(recorder.flush_sync)()
    await layer.group_add(events.REQUESTS_GROUP, "listener")
    try:
        recorder.enqueue(first := record())
        heard = await sync_to_async(recorder.flush_sync)()
    finally:
        await layer.group_discard(events.REQUESTS_GROUP, "listener")

    assert unheard == []
    assert [row["id"] for row in heard] == [first.id]
    assert await sync_to_async(Request.objects.count)() == 2  # both written all the same


HEADERS = st.lists(st.tuples(st.binary(min_size=1, max_size=20), st.binary(max_size=40)))


@given(
    request_headers=HEADERS,
    response_headers=HEADERS,
    request_body=st.binary(max_size=300),
    response_body=st.binary(max_size=300),
    status=st.one_of(st.none(), st.integers(100, 599)),
    account=st.one_of(st.none(), st.uuids()),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_the_payload_text_is_ccflares_shape_whatever_the_headers_and_bodies(
    request_headers: list[tuple[bytes, bytes]],
    response_headers: list[tuple[bytes, bytes]],
    request_body: bytes,
    response_body: bytes,
    status: int | None,
    account: uuid.UUID | None,
    flags: tuple[bool, bool, bool],
) -> None:
    success, is_stream, truncated = flags
    made = record(
        started_at=1764150000.25,
        account_id=account,
        status_code=status,
        success=success,
        is_stream=is_stream,
        request_headers=request_headers,
        request_body=request_body,
        response_headers=response_headers,
        response_body=response_body,
        truncated=truncated,
    )

    data = json.loads(write_behind.to_payload(made).data.text)

    def b64(body: bytes) -> str | None:
        return base64.b64encode(body).decode() if body else None

    assert data == {
        "request": {"headers": redact_headers(request_headers), "body": b64(request_body)},
        "response": {
            "status": status,
            "headers": redact_headers(response_headers),
            "body": b64(response_body),
        },
        "meta": {
            "accountId": str(account) if account else "no_account",
            "timestamp": 1764150000250,
            "success": success,
            "isStream": is_stream,
            "retry": 0,
            "truncated": truncated,
        },
    }


def test_while_the_database_stays_away_one_traceback_then_one_line_per_try(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = write_behind.Recorder()
    recorder.enqueue(record())

    database_away(monkeypatch, "database is locked")
    for _ in range(3):
        recorder.flush_sync()

    failed = [r for r in caplog.records if r.getMessage().startswith("recording.flush_failed")]
    assert [bool(r.exc_info) for r in failed] == [True, False, False]  # 40 tracebacks a second
    assert recorder.failures == 3 and recorder.pending == 1
    monkeypatch.undo()
    recorder.flush_sync()
    assert recorder.failures == 0 and Request.objects.count() == 1


def test_payloads_go_in_statements_of_a_bounded_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # A flush takes up to FLUSH_BATCH records and more; the statement that inserts their
    # payloads keeps its last bound bodies in memory, so it takes at most PAYLOAD_ROWS.
    sizes: list[int] = []
    real_insert = write_behind.bulk.insert_values

    def insert(model: object, params: list, **options: int) -> None:
        if model is write_behind.RequestPayload:
            sizes.append(options["most"])
        real_insert(model, params, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(write_behind.bulk, "insert_values", insert)
    headers = [(b"content-type", b"application/json")]
    batch = [record(request_headers=headers, request_body=b"{}") for _ in range(100)]

    write_behind.write_batch(batch)

    assert sizes == [write_behind.PAYLOAD_ROWS] and write_behind.PAYLOAD_ROWS <= 32
    assert write_behind.RequestPayload.objects.count() == 100


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's connection settings")
def test_the_recorders_connection_alone_is_tuned_for_its_writes() -> None:
    # Its multi-row INSERTs in a transaction keep a statement journal: in a file that was
    # one created, written and deleted per flush. Every other connection keeps its
    # temporary data in files (a report's sort of a long history grew the server in memory).
    # And it skips the CHECK constraints (JSON_VALID parsed each payload again, 0.4 ms
    # for a 256 KB capture): what it writes is built by the recorder, the rest keep them.
    def flush_and_read() -> tuple[int, int]:
        write_behind.write_batch([record()])
        write_behind.write_batch([record()])  # the same connection: no PRAGMA again
        with connection.cursor() as cursor:
            temp_store = cursor.execute("PRAGMA temp_store").fetchone()[0]
            checks_ignored = cursor.execute("PRAGMA ignore_check_constraints").fetchone()[0]
        connection.close()
        return temp_store, checks_ignored

    in_recorder = write_behind._executor.submit(flush_and_read).result()

    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA temp_store").fetchone()[0] == 1  # FILE, here
        assert cursor.execute("PRAGMA ignore_check_constraints").fetchone()[0] == 0
    assert in_recorder == (2, 1)  # MEMORY, checks skipped
    assert Request.objects.count() == 2


def test_waiting_bodies_past_their_byte_limit_are_let_go_oldest_first(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # On a full disk an audit saw the waiting records grow the server to 3.6 GB: the
    # record count was bounded, the bytes of their captured bodies were not.
    monkeypatch.setattr(write_behind, "MAX_QUEUED_BODY_BYTES", 4000)
    recorder = write_behind.Recorder()
    records = [record(request_body=b"q" * 500, response_body=b"r" * 500) for _ in range(6)]
    for each in records:
        recorder.enqueue(each)

    # The fifth passed 4,000 bytes: the oldest let go until at most 3,000 were left.
    assert [bool(r.request_body) for r in records] == [False, False, True, True, True, True]
    assert records[0].truncated and not records[2].truncated
    assert recorder.pending == 6  # every record is still written
    dropped = [r for r in caplog.records if r.getMessage().startswith("recording.bodies_dropped")]
    assert len(dropped) == 1


def test_a_batch_the_database_sent_back_counts_towards_the_limits(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(write_behind, "MAX_QUEUED", 3)
    monkeypatch.setattr(write_behind, "MAX_QUEUED_BODY_BYTES", 1400)
    recorder = write_behind.Recorder()
    records = [record(request_body=b"q" * 500) for _ in range(3)]
    for each in records:
        recorder.enqueue(each)

    database_away(monkeypatch, "database or disk is full")
    recorder.flush_sync()
    for _ in range(2):
        recorder.enqueue(record(request_body=b"n" * 500))

    assert recorder.pending == 3  # the two oldest dropped, one line for both
    overflow = [r for r in caplog.records if "queue_overflow" in r.getMessage()]
    assert len(overflow) == 1
    assert records[2].request_body is None  # the oldest left let go of its body


def test_a_flushs_request_lines_reach_the_console_in_one_write(
    settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings.LOG_REQUESTS = True
    stream = io.StringIO()
    writes: list[str] = []
    monkeypatch.setattr(stream, "write", lambda text: writes.append(text) or len(text))
    console = logs.ConsoleHandler(stream)
    console.setFormatter(logs.PrettyFormatter())
    logger = logging.getLogger(write_behind.__name__)
    logger.addHandler(console)
    caplog.set_level(logging.INFO, logger=write_behind.__name__)
    account = make_account(name="work")
    recorder = write_behind.Recorder()
    for _ in range(3):
        recorder.enqueue(record(account_id=account.pk))
    try:
        recorder.flush_sync()
    finally:
        logger.removeHandler(console)

    assert len(writes) == 1
    assert writes[0].count("request POST /v1/messages account=work") == 3


def test_a_price_saved_by_another_process_prices_what_was_recorded_meanwhile(
    settings: Any,
) -> None:
    # The process that saves a price reprices the unpriced requests it can see; the
    # server went on pricing with its cached table, and what it recorded in that time
    # stayed unpriced for good.
    settings.PRICE_CACHE_SECONDS = 3600
    cost.invalidate()
    usage = Usage(model="claude-newmodel-1", input_tokens=1000, output_tokens=100)
    before = record(usage=usage)
    write_behind.write_batch([before])
    rates = {"input_usd": 10, "cache_write_5m_usd": 12.5, "cache_write_1h_usd": 20}
    # A queryset's bulk_create sends no post_save: as if another process had saved it.
    ModelPrice.objects.bulk_create(
        [
            ModelPrice(
                model="claude-newmodel-1",
                effective_from=datetime.date(2020, 1, 1),
                prompt_tokens_over=0,
                cache_read_usd=1,
                output_usd=50,
                **rates,
            )
        ]
    )
    meanwhile = record(usage=usage)
    write_behind.write_batch([meanwhile])  # still the cached table
    settings.PRICE_CACHE_SECONDS = 0  # its time is up: the next write reads the prices

    write_behind.write_batch([record(usage=usage)])

    rows = Request.objects.filter(pk__in=[before.id, meanwhile.id])
    # 1,000 input tokens at $10 and 100 output at $50 a million.
    assert [(row.unpriced, row.cost_usd) for row in rows] == [(False, Decimal("0.015"))] * 2


def test_records_a_lost_commit_wrote_are_written_not_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # PostgreSQL cut at COMMIT: the part was written, but the recorder saw the database
    # away and tried it again. Every record then met its own id, was tried alone and
    # logged as dropped (1,024 tracebacks, 21 s), and /metrics missed them all.
    lost_commit = [record(), record()]
    write_behind.write_batch(lost_commit)
    part = [*lost_commit, record()]

    with caplog.at_level(logging.INFO, logger="analytics.recording.write_behind"):
        written, rows, unwritten, error = write_behind.write_part(part, None)

    assert (written, unwritten, error) == (part, [], None)
    assert sorted(str(row.id) for row in rows) == sorted(each.id for each in part)
    assert Request.objects.count() == 3
    messages = [entry.getMessage() for entry in caplog.records]
    assert "recording.written_already count=2" in messages
    assert not [m for m in messages if "dropped" in m or "refused" in m]
