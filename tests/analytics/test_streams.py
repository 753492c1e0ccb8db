"""The SSE streams' subscription, in-process: what a stream open for days still hears."""

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import channels.layers
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from access import grants
from access.models import ApiToken
from analytics.live import events, streams
from analytics.operations import logs

# What the API's auth let in; its re-check is tests/analytics/test_live_logout.py's concern.
TOKEN_REQUEST = SimpleNamespace(auth=ApiToken(pk=1))


@pytest.fixture(autouse=True)
def login_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    async def holds(grant: grants.Grant) -> bool:
        return True

    monkeypatch.setattr(grants, "holds", holds)


async def test_a_stream_open_for_days_still_hears_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "REJOIN_SECONDS", 0.05)
    frames = streams.request_frames(TOKEN_REQUEST)
    assert await anext(frames) == f"event: connected\ndata: ok\nid: {settings.START_ID}\n\n"

    # A day and a minute on, for the layer: what it joined at the start has expired.
    later = time.time() + 86_400 + 60
    monkeypatch.setattr(channels.layers, "time", SimpleNamespace(time=lambda: later))
    await asyncio.sleep(0.3)  # meanwhile the stream joins again
    await events.publish_requests_started([{"id": "r1"}])

    frame = await asyncio.wait_for(anext(frames), 2)
    while frame == streams.HEARTBEAT:
        frame = await asyncio.wait_for(anext(frames), 2)
    await frames.aclose()
    assert frame == 'data: {"type": "start", "id": "r1"}\n\n'


async def test_a_stream_whose_client_leaves_as_a_message_arrives_stops_listening() -> None:
    # Python 3.11's wait_for swallowed a cancellation that came in the turn a message
    # arrived: the stream went on listening for a client gone, until daphne killed it
    # (application_close_timeout later, with a warning in the log).
    layer = channels.layers.get_channel_layer()
    frames = streams.log_frames(TOKEN_REQUEST)
    assert await anext(frames) == 'data: {"connected": true}\n\n'
    (channel,) = layer.groups[logs.LOGS_GROUP]
    reading = asyncio.ensure_future(_read_all(frames))
    await asyncio.sleep(0)  # waiting for the next message

    await layer.send(channel, {"type": "log.entry", "ts": 1, "level": "INFO", "msg": "m"})
    reading.cancel()  # the client goes
    await asyncio.sleep(0.05)

    assert reading.cancelled()
    assert channel not in layer.groups.get(logs.LOGS_GROUP, {})


async def _read_all(frames: AsyncIterator[str]) -> None:
    async for _ in frames:
        pass


ID = "019ac0de-0000-7000-8000-000000000001"


@pytest.mark.django_db(transaction=True)
async def test_a_finished_request_goes_out_without_its_bodies_while_the_database_is_away() -> None:
    # The stream died at a PostgreSQL restart (its answer had started: no error to send).
    row = {"id": ID, "errorMessage": None, "accountUsed": None, "success": True}
    row |= {"path": "/v1/messages", "method": "POST"}
    rename = "ALTER TABLE {} RENAME TO {}"
    await _execute(rename.format("analytics_requestpayload", "payloads_away"))
    try:
        event = await streams._payload(row)
    finally:
        await _execute(rename.format("payloads_away", "analytics_requestpayload"))

    assert (event["id"], event["request"], event["response"]) == (ID, None, None)
    assert event["meta"]["path"] == "/v1/messages"


@sync_to_async
def _execute(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


async def test_an_idle_stream_ends_at_the_logins_recheck_not_its_next_heartbeat(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # Waking only for heartbeats (15 s by default), an idle stream outlived its logout by
    # up to 15 s; docs/api.md says the login is re-checked every 5 s (RECHECK_SECONDS).
    settings.SSE_HEARTBEAT_SECONDS = 30
    monkeypatch.setattr(grants, "RECHECK_SECONDS", 0.1)
    logged_in = True

    async def holds(grant: grants.Grant) -> bool:
        return logged_in

    monkeypatch.setattr(grants, "holds", holds)
    frames = streams.log_frames(TOKEN_REQUEST)
    assert await anext(frames) == 'data: {"connected": true}\n\n'
    reading = asyncio.ensure_future(_read_all(frames))
    await asyncio.sleep(0.3)
    assert not reading.done()

    logged_in = False
    await asyncio.wait_for(reading, 2)  # ended by the stream itself


async def test_heartbeats_keep_their_interval_between_rechecks(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.SSE_HEARTBEAT_SECONDS = 0.5
    monkeypatch.setattr(grants, "RECHECK_SECONDS", 0.05)
    frames = streams.log_frames(TOKEN_REQUEST)
    await anext(frames)
    heard: list[str] = []

    async def listen() -> None:
        async for frame in frames:
            heard.append(frame)

    listening = asyncio.ensure_future(listen())
    await asyncio.sleep(1.2)
    listening.cancel()

    # One each 0.5 s (two, or fewer on a busy machine), not one per re-check (about 24).
    assert heard and set(heard) == {streams.HEARTBEAT} and len(heard) <= 3
