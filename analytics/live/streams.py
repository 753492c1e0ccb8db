"""Server-sent event streams for API clients: live requests and live logs (docs/api.md).

They read the same channel groups as the dashboard, so with a Redis channel layer
a client connected to one process sees the requests and logs of all of them. A
`: heartbeat` comment goes out when nothing else did for SSE_HEARTBEAT_SECONDS. A stream
ends once the login it was opened with ends (access.grants).
"""

import asyncio
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, StreamingHttpResponse

from access import grants
from analytics.live import events
from analytics.models import RequestPayload
from analytics.operations import logs
from lib import db_away

logger = logging.getLogger(__name__)

HEARTBEAT = ": heartbeat\n\n"


def response(frames: AsyncIterator[str]) -> StreamingHttpResponse:
    reply = StreamingHttpResponse(frames, content_type="text/event-stream")
    reply["Cache-Control"] = "no-cache"
    # nginx and friends would otherwise buffer the stream.
    reply["X-Accel-Buffering"] = "no"
    return reply


async def request_frames(request: HttpRequest) -> AsyncIterator[str]:
    """`connected`, then start / summary / payload events as requests happen.

    `connected` carries the server's start id as its SSE `id` (settings.START_ID): a client
    that reconnects and gets another one knows the requests it saw start and not end died
    with the old server. `request` is the one api_auth let in; the stream ends when its
    login does.
    """
    async with _subscription(events.REQUESTS_GROUP, grants.of_request(request)) as messages:
        yield f"event: connected\ndata: ok\nid: {settings.START_ID}\n\n"
        async for message in messages:
            if message is None:
                yield HEARTBEAT
            elif message["type"] == "requests.started":
                for row in message["rows"]:
                    yield _data({"type": "start", **row})
            elif message["type"] == "requests.logged":
                for row in message["rows"]:
                    yield _data({"type": "summary", "payload": row})
                    yield _data({"type": "payload", "payload": await _payload(row)})


async def log_frames(request: HttpRequest) -> AsyncIterator[str]:
    """`{"connected": true}`, then one `{ts, level, msg}` per log event, until the login of
    `request` ends."""
    async with _subscription(logs.LOGS_GROUP, grants.of_request(request)) as messages:
        yield _data({"connected": True})
        async for message in messages:
            if message is None:
                yield HEARTBEAT
            else:
                yield _data({k: message.get(k) for k in ("ts", "level", "msg")})


@asynccontextmanager
async def _subscription(
    group: str, grant: grants.Grant
) -> AsyncIterator[AsyncIterator[dict | None]]:
    """Messages sent to `group` from now on; None when a heartbeat is due. They stop
    once `grant` no longer holds, which the caller takes as the stream's end.

    Joined before the first frame goes out, so nothing published after the client
    saw `connected` is missed; left when the client goes (the task is cancelled).
    """
    logs.attach_loop(asyncio.get_running_loop())
    layer = get_channel_layer()
    assert layer is not None, "settings.CHANNEL_LAYERS always names one"
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    staying = asyncio.create_task(events.stay_joined(layer, [group], channel))
    try:
        yield _receive(layer, channel, grants.Watch(grant))
    finally:
        staying.cancel()
        await layer.group_discard(group, channel)


# Per event loop: done once the server begins to stop (end_all).
_stopping: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future]" = (
    weakref.WeakKeyDictionary()
)


def end_all() -> None:
    """End every live stream of this process's loop (the server is stopping: ccflare_site's
    drain). Each ends its answer, so its client sees the stream end and reconnects; cut
    by the server instead, each was an unfinished answer and an ERROR in the log."""
    stopping = _stopping_future()
    if not stopping.done():
        stopping.set_result(None)


def _stopping_future() -> asyncio.Future:
    loop = asyncio.get_running_loop()
    stopping = _stopping.get(loop)
    if stopping is None:
        stopping = _stopping[loop] = loop.create_future()
    return stopping


async def _receive(layer: object, channel: str, watch: grants.Watch) -> AsyncIterator[dict | None]:
    # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that comes in the
    # turn the message arrives, and the stream of a client gone listened on until daphne
    # killed it (application_close_timeout later, with a warning).
    stopping = _stopping_future()
    heartbeat_at = time.monotonic() + settings.SSE_HEARTBEAT_SECONDS
    while True:
        receiving = asyncio.ensure_future(layer.receive(channel))  # type: ignore[attr-defined]
        # Woken for the login's re-check too: an idle stream ends within recheck_seconds()
        # of a logout, as with events flowing, not at its next heartbeat.
        wait = min(heartbeat_at - time.monotonic(), grants.recheck_seconds())
        try:
            await asyncio.wait(
                [receiving, stopping], timeout=max(0.0, wait), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not receiving.done():  # timed out, the client left, or the server stops
                receiving.cancel()  # a message handed to it meanwhile stays queued
        if stopping.done():
            return
        # Taken before the check below: a receive cancelled above is done after it.
        message = receiving.result() if receiving.done() else None
        if not await watch.holds():
            logger.info("live.stream_ended reason=login_ended")
            return
        if message is None and time.monotonic() < heartbeat_at:
            continue  # only the re-check was due
        heartbeat_at = time.monotonic() + settings.SSE_HEARTBEAT_SECONDS
        yield message


async def _payload(row: dict) -> dict:
    """The captured payload of a finished request, as the stream's `payload` event (docs/api.md).

    With the database away, without the bodies: the stream outlives the outage (it died
    at a PostgreSQL restart, after its answer had started).
    """
    try:
        stored = await RequestPayload.objects.filter(pk=row["id"]).afirst()
    except DatabaseError as error:
        await sync_to_async(db_away.after_failure)(error)
        stored = None
    data = stored.data if stored is not None and isinstance(stored.data, dict) else {}
    return {
        "id": row["id"],
        "request": data.get("request"),
        "response": data.get("response"),
        **({"error": row["errorMessage"]} if row.get("errorMessage") else {}),
        "meta": {
            # As /api/requests/detail and ccflare say it for a request no account served.
            "accountId": row["accountUsed"] or "no_account",
            "timestamp": (data.get("meta") or {}).get("timestamp"),
            "success": row["success"],
            "retry": 0,
            "path": row["path"],
            "method": row["method"],
            "agentUsed": row.get("agentUsed"),
        },
    }


def _data(value: dict) -> str:
    return f"data: {json.dumps(value, default=str)}\n\n"
