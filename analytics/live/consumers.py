"""The dashboard's websocket: pushes request, account and log events to logged-in staff.

Thin by design: it joins channel groups and forwards what publishers send
(`analytics.live.events`, `analytics.operations.logs`); it computes nothing and reads no
database, but for the periodic re-check of its login (access.grants).
A page picks its topics with `?topics=requests,accounts,logs` (default: requests
and accounts), so only the Logs page pays for the log stream. The socket closes with
LOGGED_OUT once the session it was opened with ends (access.grants).
"""

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from access import grants
from analytics.live import events
from analytics.operations import logs

TOPICS = {
    "requests": events.REQUESTS_GROUP,
    "accounts": events.ACCOUNTS_GROUP,
    "logs": logs.LOGS_GROUP,
}
DEFAULT_TOPICS = ("requests", "accounts")
# Close code for "not allowed": sent before accept, so the handshake fails (HTTP 403).
FORBIDDEN = 4403
# Close code for "your login ended" (logout, session expired, no longer staff): sent to an
# open socket, so the page knows a reconnect cannot help until the user logs in again.
LOGGED_OUT = 4401


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        """Accept staff only, then join the groups of the requested topics."""
        if not grants.is_staff(self.scope.get("user")):
            await self.close(code=FORBIDDEN)
            return
        # Log records written from worker threads are published on this loop.
        logs.attach_loop(asyncio.get_running_loop())
        self.joined = [TOPICS[name] for name in requested_topics(self.scope)]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.staying = asyncio.create_task(
            events.stay_joined(self.channel_layer, self.joined, self.channel_name)
        )
        self.watching = asyncio.create_task(self._close_when_logged_out())
        await self.accept()
        # The start id tells a page that reconnected whether this is still the server
        # that announced the requests it shows as running (settings.START_ID).
        topics = requested_topics(self.scope)
        await self.send_json({"type": "hello", "topics": topics, "startId": settings.START_ID})

    async def disconnect(self, code: int) -> None:
        for task in (getattr(self, "staying", None), getattr(self, "watching", None)):
            if task is not None:
                task.cancel()
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _close_when_logged_out(self) -> None:
        # Nothing queued meanwhile reaches the page: daphne sends nothing after a close frame.
        await grants.until_ended(grants.of_scope(self.scope))
        await self.close(code=LOGGED_OUT)

    async def receive_json(self, content: dict, **kwargs: object) -> None:
        # The browser only listens; a ping keeps idle proxies from closing the socket.
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    # The browser gets one message per request, as before the layer batched them.
    async def requests_started(self, event: dict) -> None:
        for row in event["rows"]:
            await self.send_json({"type": "request.started", "row": row})

    async def requests_logged(self, event: dict) -> None:
        for row in event["rows"]:
            await self.send_json({"type": "request.logged", "row": row})

    async def account_changed(self, event: dict) -> None:
        await self.send_json({k: event.get(k) for k in ("type", "id", "name", "deleted")})

    async def log_entry(self, event: dict) -> None:
        entry = {k: event.get(k) for k in ("ts", "level", "msg")}
        await self.send_json({"type": "log", **entry})


def requested_topics(scope: Mapping[str, Any]) -> list[str]:
    """The known topics named in the query string, in a stable order; the default if none."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    asked = {name for value in query.get("topics", []) for name in value.split(",")}
    known = [name for name in TOPICS if name in asked]
    return known or list(DEFAULT_TOPICS)
