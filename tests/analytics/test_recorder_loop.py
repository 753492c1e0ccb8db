"""A flush builds its rows on the event loop, in the gaps between requests, and loses none."""

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import override_settings

from analytics.models import Request, RequestPayload
from analytics.recording import cost, write_behind
from analytics.recording.usage import Usage
from tests.factories import make_record

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "claude-sonnet-4-5-20250929"


def record() -> write_behind.RequestRecord:
    """A priced request with its payload captured."""
    return make_record(
        success=True,
        usage=Usage(model=MODEL, input_tokens=1000, output_tokens=500),
        request_headers=[(b"content-type", b"application/json")],
        request_body=b'{"model": "x"}',
        response_headers=[(b"request-id", b"req_1")],
        response_body=b'{"content": []}',
    )


@pytest.fixture
def fresh_prices(prices: None) -> Iterator[None]:
    """A price table read just now, as the recorder's thread keeps it: the loop may use it."""
    cost.invalidate()
    cost.current_table()
    yield
    cost.invalidate()


async def waiting_flush(
    *records: write_behind.RequestRecord,
) -> tuple[write_behind.Recorder, asyncio.Future[None]]:
    """A recorder with `records` queued and one request in flight, and its flush begun a
    moment ago (it waits for a gap to build their rows)."""
    recorder = write_behind.Recorder()
    recorder.request_began()
    for item in records:
        recorder.enqueue(item)
    flush = asyncio.ensure_future(recorder.flush())
    await asyncio.sleep(0.1)
    return recorder, flush


async def stored_ids() -> set[uuid.UUID]:
    return await sync_to_async(lambda: set(Request.objects.values_list("pk", flat=True)))()


def stored(record_id: str) -> tuple:
    row = Request.objects.get(pk=record_id)
    payload = RequestPayload.objects.get(pk=record_id)
    return (row.model, row.input_tokens, row.cost_usd, row.unpriced, payload.data["meta"])


async def test_rows_built_on_the_loop_are_stored_as_the_thread_stores_them(
    fresh_prices: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_loop, in_thread = record(), record()
    recorder = write_behind.Recorder()
    built = []
    real_prepare = write_behind.prepare

    def prepare(batch: list, table: cost.PriceTable) -> write_behind.Prepared:
        built.append((threading.current_thread().name, [item.id for item in batch]))
        return real_prepare(batch, table)

    monkeypatch.setattr(write_behind, "prepare", prepare)
    recorder.enqueue(on_loop)
    await recorder.flush()
    recorder.enqueue(in_thread)
    await sync_to_async(recorder.flush_sync)()

    loop_row = await sync_to_async(stored)(on_loop.id)
    thread_row = await sync_to_async(stored)(in_thread.id)
    loop_thread = threading.current_thread().name
    assert built[0] == (loop_thread, [on_loop.id])
    assert built[1][0] != loop_thread  # flush_sync: in the thread, as before
    assert loop_row[2] is not None and loop_row[2] > 0  # priced
    assert loop_row[:4] == thread_row[:4]
    assert loop_row[4]["accountId"] == thread_row[4]["accountId"] == "no_account"


async def test_without_a_fresh_price_table_the_thread_builds_the_rows(
    fresh_prices: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop runs no query: the table is read in the thread, once per PRICE_CACHE_SECONDS.
    read_at, table = cost._cache  # type: ignore[misc]
    stale = read_at - settings.PRICE_CACHE_SECONDS - 1
    monkeypatch.setattr(cost, "_cache", (stale, table))
    threads = []
    real_prepare = write_behind.prepare

    def prepare(batch: list, table: cost.PriceTable) -> write_behind.Prepared:
        threads.append(threading.current_thread().name)
        return real_prepare(batch, table)

    monkeypatch.setattr(write_behind, "prepare", prepare)
    recorder = write_behind.Recorder()
    recorder.enqueue(first := record())

    await recorder.flush()

    row = await sync_to_async(Request.objects.get)(pk=first.id)
    assert row.cost_usd is not None and row.cost_usd > 0
    assert threads and threading.current_thread().name not in threads
    assert cost._cache[0] > stale  # read again by that flush, for the next ones


@override_settings(RECORDER_FLUSH_MS=10_000)
@pytest.mark.parametrize(
    "then",
    [
        # The gap it waited for: it builds the rows then.
        pytest.param(write_behind.Recorder.request_ended, id="the-request-ends"),
        # Two side by side: a load that leaves no gap, and waiting for one would hold
        # every flush back (the records a crash can lose, and the memory they take); the
        # thread builds the rows at once.
        pytest.param(write_behind.Recorder.request_began, id="another-begins"),
    ],
)
async def test_a_flush_waits_with_a_request_in_flight_until_it_ends_or_another_begins(
    fresh_prices: None, then: Callable[[write_behind.Recorder], None]
) -> None:
    recorder, flush = await waiting_flush(first := record())
    waited = not flush.done()

    then(recorder)
    await asyncio.wait_for(flush, 2)  # long before the 6 s it may look for gaps

    assert waited
    assert await sync_to_async(Request.objects.filter(pk=first.id).exists)()


@override_settings(RECORDER_FLUSH_MS=100)
async def test_under_constant_load_the_thread_builds_the_rows_after_a_share_of_the_interval(
    fresh_prices: None,
) -> None:
    recorder = write_behind.Recorder()
    recorder.request_began()  # and never ended: no gap comes
    for _ in range(40):
        recorder.enqueue(record())

    started = time.monotonic()
    await asyncio.wait_for(recorder.flush(), 5)
    took = time.monotonic() - started

    assert took >= 0.1 * write_behind.PREPARE_PATIENCE
    assert await sync_to_async(Request.objects.count)() == 40


@override_settings(RECORDER_FLUSH_MS=10_000)
async def test_a_flush_cancelled_while_it_waits_leaves_its_records_queued(
    fresh_prices: None,
) -> None:
    # Cancelled, or left behind by a loop stopped at shutdown: the final drain writes them.
    recorder, flush = await waiting_flush(first := record(), second := record())
    recorder.enqueue(third := record())
    flush.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flush
    await sync_to_async(recorder.flush_sync)()

    assert {uuid.UUID(r.id) for r in (first, second, third)} == await stored_ids()


@override_settings(RECORDER_FLUSH_MS=10_000)
async def test_rows_built_for_records_another_flush_took_meanwhile_are_let_go(
    fresh_prices: None, caplog: pytest.LogCaptureFixture
) -> None:
    # The final drain at shutdown flushes beside the loop's flush, which may be waiting
    # for a gap with rows built for records the drain then writes.
    recorder, flush = await waiting_flush(first := record())

    await sync_to_async(recorder.flush_sync)()  # writes `first`
    recorder.enqueue(second := record())
    recorder.request_ended()
    await asyncio.wait_for(flush, 5)

    assert await stored_ids() == {uuid.UUID(first.id), uuid.UUID(second.id)}
    assert "recording.batch_refused" not in caplog.text  # no duplicate tried


async def test_a_record_whose_rows_cannot_be_built_leaves_the_others_written(
    fresh_prices: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = write_behind.Recorder()
    good, bad = record(), record()
    real_to_request = write_behind.to_request

    def to_request(item: write_behind.RequestRecord, table: cost.PriceTable) -> object:
        if item is bad:
            raise ValueError("a value nothing can store")
        return real_to_request(item, table)

    monkeypatch.setattr(write_behind, "to_request", to_request)
    recorder.enqueue(good)
    recorder.enqueue(bad)

    await recorder.flush()

    assert await sync_to_async(Request.objects.filter(pk=good.id).exists)()
    assert recorder.pending == 0
