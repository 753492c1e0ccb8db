"""Live events shared by the worker processes of one server, without Redis.

With `WORKERS=N`, `ccflare_site.workers` (the parent of the N daphne processes) runs
`serve_hub` on a Unix socket and gives each worker its path in `CCFLARE_LIVE_HUB`.
Each worker's `HubChannelLayer` delivers a group message to its own listeners as
the in-memory layer does, and also sends it to the hub, which copies it to every
other worker; they deliver it to their own listeners. So a dashboard socket held by
one worker sees the requests every worker serves.

Why a hub and not the database: the proxy publishes two events per request; a
table written and polled for them would add writes and a polling delay to every
request, while the hub costs one local socket write. Only group messages cross
(the live feed, the logs page); a consumer's own channel never leaves its process.
Several hosts share events through Redis (`REDIS_URL`) instead.

A frame is a 4-byte big-endian length, then the JSON of `{"group", "message"}`.
"""

import asyncio
import contextlib
import json
import logging
import weakref
from typing import Any

from channels.layers import InMemoryChannelLayer

logger = logging.getLogger(__name__)

HEADER_BYTES = 4
# A worker that stops reading (stuck, or dying) gets no more frames past this much
# buffered data: live views are best-effort, the hub must not grow without bound.
MAX_BUFFERED_BYTES = 8 * 1024 * 1024
# After a failed connection, a worker tries the hub again this much later.
RECONNECT_SECONDS = 1.0


def encode(group: str, message: dict) -> bytes:
    # default=str: a datetime or UUID in a row reaches other workers as the text the
    # websocket would have sent anyway.
    body = json.dumps({"group": group, "message": message}, default=str).encode()
    return len(body).to_bytes(HEADER_BYTES, "big") + body


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One frame's body; raises IncompleteReadError when the other side closed."""
    header = await reader.readexactly(HEADER_BYTES)
    return await reader.readexactly(int.from_bytes(header, "big"))


async def serve_hub(path: str) -> asyncio.Server:
    """Listen on `path` and copy every frame a worker sends to every other worker."""
    peers: set[asyncio.StreamWriter] = set()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.add(writer)
        try:
            while True:
                body = await read_frame(reader)
                frame = len(body).to_bytes(HEADER_BYTES, "big") + body
                for peer in list(peers):
                    if peer is not writer and peer.transport.get_write_buffer_size() < (
                        MAX_BUFFERED_BYTES
                    ):
                        peer.write(frame)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            peers.discard(writer)
            writer.close()

    return await asyncio.start_unix_server(relay, path)


class _Link:
    """One worker's connection to the hub, on one event loop."""

    def __init__(self, writer: asyncio.StreamWriter, reader_task: asyncio.Task) -> None:
        self.writer = writer
        self.reader_task = reader_task


class HubChannelLayer(InMemoryChannelLayer):
    """The in-memory layer, with group messages also sent to and received from the hub."""

    def __init__(self, hub_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hub_path = hub_path
        # Per event loop: a management command's async_to_sync runs its own loop.
        self._links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Link] = (
            weakref.WeakKeyDictionary()
        )
        self._connecting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._retry_at = 0.0

    async def group_add(self, group: str, channel: str) -> None:
        # A worker that listens must be connected to hear the others.
        await self._link()
        await super().group_add(group, channel)

    async def group_send(self, group: str, message: dict) -> None:
        await super().group_send(group, message)
        link = await self._link()
        # Not awaited (no drain): a publisher never waits for the hub; past the cap the
        # other workers miss this event rather than this one's memory growing.
        if link is not None and link.writer.transport.get_write_buffer_size() < MAX_BUFFERED_BYTES:
            try:
                link.writer.write(encode(group, message))
            except (ConnectionError, RuntimeError):
                self._drop(link)

    async def _link(self) -> _Link | None:
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is not None and not link.writer.is_closing():
            return link
        if loop.time() < self._retry_at:
            return None
        async with self._connecting.setdefault(loop, asyncio.Lock()):
            link = self._links.get(loop)
            if link is not None and not link.writer.is_closing():
                return link
            return await self._connect(loop)

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Link | None:
        try:
            reader, writer = await asyncio.open_unix_connection(self.hub_path)
        except OSError:
            logger.warning("live_hub.unreachable", extra={"path": self.hub_path})
            self._retry_at = loop.time() + RECONNECT_SECONDS
            return None
        link = _Link(writer, loop.create_task(self._receive(reader, writer)))
        self._links[loop] = link
        return link

    async def _receive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Deliver the other workers' group messages to this worker's listeners."""
        try:
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while True:
                    frame = json.loads(await read_frame(reader))
                    await super().group_send(frame["group"], frame["message"])
        finally:
            # The hub went away: the next publish connects again.
            writer.close()

    async def close(self) -> None:
        """Leave the hub (tests; a worker simply exits)."""
        for link in list(self._links.values()):
            self._drop(link)
            with contextlib.suppress(asyncio.CancelledError):
                await link.reader_task

    def _drop(self, link: _Link) -> None:
        link.writer.close()
        link.reader_task.cancel()
