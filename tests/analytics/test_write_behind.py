"""The recorder never lets one bad record hold back the others, and stores hostile text safely."""

import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from analytics.live import events
from analytics.models import Request
from analytics.recording import write_behind
from analytics.recording.usage import Usage
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)


def record(**fields: object) -> write_behind.RequestRecord:
    values: dict = {
        "id": str(uuid.uuid4()),
        "started_at": time.time(),
        "method": "POST",
        "path": "/v1/messages",
        "status_code": 200,
        **fields,
    }
    return write_behind.RequestRecord(**values)


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
