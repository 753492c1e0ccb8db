"""The recorder never lets one bad record hold back the others, and stores hostile text safely."""

import base64
import json
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from hypothesis import given
from hypothesis import strategies as st

from analytics.live import events
from analytics.models import Request
from analytics.recording import write_behind
from analytics.recording.redaction import redact_headers
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
