"""Pages and the API start their answer within ANSWER_TIMEOUT_SECONDS, or get a 503 from here.

A database that stops answering without closing its connections (a PostgreSQL that is
stopped, cut off by the network, or waiting on a lock someone holds) left every page
and API call waiting for good: the query waits in Django's thread, and nothing can
interrupt a thread. The 503 is sent from here instead, saying why; Django's own answer,
if it comes later, is dropped. An answer already started (a stream) has no deadline.

The threads of requests answered so go on waiting for the database; while LATE_MOST
of them still do, further requests get the 503 at once rather than add threads. On
PostgreSQL their queries end QUERY_GRACE_SECONDS after the deadline: a query waiting on a
lock kept its thread and its connection for as long as the lock was held, and a long
lock used up PostgreSQL's max_connections. The maintenance calls that work through the
whole history (UNBOUNDED) have no deadline: on a long history they rightly take minutes,
and a 503 said the database was away.
"""

import asyncio
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.template import loader

from ccflare_site import errors
from ccflare_site.middleware import is_api_path
from lib import db_away
from proxy import replies

logger = logging.getLogger(__name__)

Message = Mapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[dict, Callable[[], Awaitable[Message]], Send], Awaitable[None]]

LATE_MOST = 20
UNBOUNDED = frozenset({"/api/stats/reset", "/api/maintenance/cleanup", "/api/maintenance/compact"})
_late: set[asyncio.Task] = set()  # requests answered from here, their app still at work
# After the deadline's 503 has gone, so that the client reads why (not the query's cancel).
QUERY_GRACE_SECONDS = 1.0
# The deadline of the request being served, seen by the threads that query for it.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


async def serve(
    app: App, scope: dict, receive: Callable[[], Awaitable[Message]], send: Send
) -> None:
    """Run `app` for one HTTP request; answer 503 for it if it has not started in time."""
    timeout = settings.ANSWER_TIMEOUT_SECONDS
    if scope["path"] in UNBOUNDED:
        return await app(scope, receive, send)
    if len(_late) >= LATE_MOST:
        return await _unavailable(scope, send, f"{len(_late)} earlier requests still wait")
    answer = _Answer(send)
    bounded = _deadline.set(timeout)
    task = asyncio.ensure_future(app(scope, receive, answer.send))  # in a copy of the context
    _deadline.reset(bounded)
    try:
        # Not wait_for: on Python 3.11 it can swallow a cancellation (the SSE stream's case).
        await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task.done() or answer.started:
        return await task  # a stream on its way has no deadline
    answer.dropped = True
    _late.add(task)
    task.add_done_callback(_finished_late)
    why = f"no answer within {timeout:g} s"
    errors.log_database_away(scope.get("path", ""), why)
    await _unavailable(scope, send, why)


@receiver(connection_created)
def _bound_queries(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """A connection made for a request with a deadline has its queries end soon after it.

    Only those: the recorder's, the account pool's and the maintenance commands' run
    in no request, and the UNBOUNDED calls have no deadline.
    """
    timeout = _deadline.get()
    if timeout is not None:
        db_away.end_statements_after(connection, timeout + QUERY_GRACE_SECONDS)


class _Answer:
    """The app's `send`, noting when its answer starts; everything after a 503 is dropped."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.dropped = False

    async def send(self, message: Message) -> None:
        if self.dropped:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _finished_late(task: asyncio.Task) -> None:
    _late.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("server.answer_late_failed error=%r", task.exception())


async def _unavailable(scope: dict, send: Send, why: str) -> None:
    reason = (
        f"The database did not answer ({why}): it may be stopped, unreachable or waiting "
        "on a lock. A change this request asked for may still be made."
    )
    if is_api_path(scope.get("path", "")):
        body, content_type = json.dumps({"error": reason}).encode(), b"application/json"
    else:
        page = loader.render_to_string("503_database.html", {"reason": reason})
        body, content_type = page.encode(), b"text/html; charset=utf-8"
    headers = [
        (b"retry-after", str(errors.RETRY_AFTER_SECONDS).encode()),
        (b"cache-control", b"no-store"),
    ]
    await replies.send_json(send, status=503, body=body, headers=headers, content_type=content_type)
