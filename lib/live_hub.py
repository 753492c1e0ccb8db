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

Only workers with someone listening hear a group's messages. Each worker tells the hub
which groups it has listeners in (`{"listen": [...]}`); the hub tells each worker which
groups any other worker listens to (`{"heard": [...]}`), and relays a message only to
workers that listen to its group. A worker whose groups are heard nowhere else builds and
sends nothing for them (`has_listeners`): with no dashboard open, the proxy's events
cost nothing. A worker that starts listening waits for the hub's `{"ack": ...}`, sent
after the hub wrote the news to the other workers, so a listener that has said
"connected" is not missing a worker's events (bar one that worker already had in hand).

A frame is a 4-byte big-endian length, then a JSON object: `{"group", "message"}` or one
of the three above.
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
# How long a worker that starts listening waits for the hub to have told the others.
ACK_SECONDS = 1.0


def encode(frame: dict) -> bytes:
    # default=str: a datetime or UUID in a row reaches other workers as the text the
    # websocket would have sent anyway.
    body = json.dumps(frame, default=str).encode()
    return len(body).to_bytes(HEADER_BYTES, "big") + body


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One frame's body; raises IncompleteReadError when the other side closed."""
    header = await reader.readexactly(HEADER_BYTES)
    return await reader.readexactly(int.from_bytes(header, "big"))


async def serve_hub(path: str) -> asyncio.Server:
    """Listen on `path` and relay each worker's messages to the other workers that listen."""
    listening: dict[asyncio.StreamWriter, frozenset[str]] = {}
    told: dict[asyncio.StreamWriter, frozenset[str]] = {}

    def tell_heard(*, but: asyncio.StreamWriter | None = None) -> None:
        """Send each worker (but `but`) the groups the others listen to, when that changed."""
        for peer in list(listening):
            if peer is but:
                continue
            heard = frozenset().union(*(g for p, g in listening.items() if p is not peer))
            if told.get(peer) != heard:
                told[peer] = heard
                _send(peer, {"heard": sorted(heard)})

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listening[writer] = frozenset()
        tell_heard()
        try:
            while True:
                body = await read_frame(reader)
                frame = json.loads(body)
                if "listen" in frame:
                    listening[writer] = frozenset(frame["listen"])
                    tell_heard(but=writer)
                    _send(writer, {"ack": frame.get("seq")})
                    continue
                framed = len(body).to_bytes(HEADER_BYTES, "big") + body
                for peer, groups in list(listening.items()):
                    if peer is not writer and frame["group"] in groups:
                        _write(peer, framed)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, KeyError, TypeError):
            pass
        finally:
            listening.pop(writer, None)
            told.pop(writer, None)
            writer.close()
            tell_heard()

    return await asyncio.start_unix_server(relay, path)


def _send(writer: asyncio.StreamWriter, frame: dict) -> None:
    _write(writer, encode(frame))


def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    # Not awaited (no drain): past the cap a stuck reader misses frames instead of the
    # sender's memory growing; live views are best-effort.
    if not writer.is_closing() and writer.transport.get_write_buffer_size() < MAX_BUFFERED_BYTES:
        writer.write(data)


class _Link:
    """One worker's connection to the hub, on one event loop."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.reader_task: asyncio.Task | None = None
        # The groups other workers listen to; None until the hub has said.
        self.heard: frozenset[str] | None = None
        # The groups this worker last told the hub it listens to, and the acks awaited.
        self.said: frozenset[str] = frozenset()
        self.acks: dict[int, asyncio.Future] = {}


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
        self._seq = 0

    def has_listeners(self, group: str) -> bool:
        """Whether a listener of `group` may be in this worker or another (any thread).

        Before the hub has said what the others listen to, the answer is yes.
        """
        if self.groups.get(group):
            return True
        try:
            links = list(self._links.values())
        except RuntimeError:  # a link came or went in the loop's thread meanwhile
            return True
        return not links or any(link.heard is None or group in link.heard for link in links)

    async def group_add(self, group: str, channel: str) -> None:
        # A worker that listens must be connected to hear the others.
        link = await self._link()
        await super().group_add(group, channel)
        if link is not None:
            await self._say_listening(link)

    async def group_discard(self, group: str, channel: str) -> None:
        await super().group_discard(group, channel)
        link = self._links.get(asyncio.get_running_loop())
        if link is not None and not link.writer.is_closing():
            self._tell_listening(link)

    async def group_send(self, group: str, message: dict) -> None:
        await super().group_send(group, message)
        link = await self._link()
        if link is not None and (link.heard is None or group in link.heard):
            self._write(link, encode({"group": group, "message": message}))

    def _listening(self) -> frozenset[str]:
        return frozenset(group for group, channels in self.groups.items() if channels)

    def _tell_listening(self, link: _Link) -> asyncio.Future | None:
        """Tell the hub this worker's groups if they changed; the future of its ack."""
        groups = self._listening()
        if groups == link.said:
            return None
        link.said = groups
        self._seq += 1
        ack = link.acks[self._seq] = asyncio.get_running_loop().create_future()
        self._write(link, encode({"listen": sorted(groups), "seq": self._seq}))
        return ack

    async def _say_listening(self, link: _Link) -> None:
        ack = self._tell_listening(link)
        if ack is not None:
            # The hub acks once the others know; a hub that does not answer is not waited on.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(ack), ACK_SECONDS)

    def _write(self, link: _Link, frame: bytes) -> None:
        if link.writer.transport.get_write_buffer_size() < MAX_BUFFERED_BYTES:
            try:
                link.writer.write(frame)
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
        link = _Link(writer)
        link.reader_task = loop.create_task(self._receive(reader, link))
        self._links[loop] = link
        # A new connection (the first, or after the hub came back) says it all again.
        self._tell_listening(link)
        return link

    async def _receive(self, reader: asyncio.StreamReader, link: _Link) -> None:
        """Deliver the other workers' group messages to this worker's listeners."""
        try:
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                while True:
                    frame = json.loads(await read_frame(reader))
                    if "group" in frame:
                        await super().group_send(frame["group"], frame["message"])
                    elif "heard" in frame:
                        link.heard = frozenset(frame["heard"])
                    elif (ack := link.acks.pop(frame.get("ack"), None)) and not ack.done():
                        ack.set_result(None)
        finally:
            # The hub went away: the next publish connects again.
            link.writer.close()
            link.heard = None

    async def close(self) -> None:
        """Leave the hub (tests; a worker simply exits)."""
        for link in list(self._links.values()):
            self._drop(link)
            if link.reader_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await link.reader_task

    def _drop(self, link: _Link) -> None:
        link.writer.close()
        if link.reader_task is not None:
            link.reader_task.cancel()
