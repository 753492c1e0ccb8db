"""The keep-alive pool and its responses: what the rest of the proxy calls (see __init__)."""

import asyncio
import collections
import ssl
import sys
from collections.abc import AsyncIterator, Hashable, Iterator, Mapping
from typing import TypeVar, overload

from lib.h1.connect import Connector, Origin, parse_origin, split_url
from lib.h1.errors import ConnectionLost
from lib.h1.head import Head
from lib.h1.protocol import Connection

# An idle connection this old is closed rather than reused (aiohttp's keepalive_timeout):
# servers drop idle ones after a while, and a request on one they just dropped is lost.
KEEPALIVE_SECONDS = 30.0
# A pooled connection lost this soon after a request went out on it, before any byte of
# an answer, is the keep-alive race: the server had closed it idle, and the request may
# go once more on a fresh connection. Lost later, the server had the request and died
# with it: sent again, a POST could be done (and paid for) twice (RFC 9112 §9.3.1).
RACE_SECONDS = 1.0
_T = TypeVar("_T")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Headers(Mapping[str, str]):
    """Case-insensitive view of a response's headers: the first value of each name."""

    __slots__ = ("_first",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        # Reversed, so that the first of repeated names wins.
        self._first = {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in reversed(raw)}

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str) -> str: ...
    @overload
    def get(self, name: str, /, default: _T) -> str | _T: ...
    def get(self, name: str, /, default: object = None) -> object:
        # Mapping.get would go through __getitem__ and a KeyError: this runs per response.
        return self._first.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)


class Response:
    """One upstream answer: status and headers at once, the body as it is read."""

    __slots__ = (
        "status", "raw_headers", "length", "resent", "_headers", "_conn", "_pool", "_released"
    )  # fmt: skip

    def __init__(self, head: Head, conn: Connection, pool: "Pool") -> None:
        self.status = head.status
        self.raw_headers = head.raw_headers
        self.length = head.length  # the Content-Length framing the body, when one does
        # Sent twice: its pooled connection was lost as it went out (RACE_SECONDS).
        self.resent = False
        self._headers: Headers | None = None
        self._conn = conn
        self._pool = pool
        self._released = False

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self.raw_headers)
        return self._headers

    async def read(self) -> bytes:
        return (await self.read_up_to(sys.maxsize))[0]

    async def read_up_to(self, limit: int) -> tuple[bytes, bool]:
        """The payload whole, or once it passes `limit` bytes what came so far; and whether
        it is whole (if not, the rest is still there for iter_chunks)."""
        parts: list[bytes] = []
        size = 0
        while chunk := await self._conn.next_chunk():
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                return b"".join(parts), False
        return (parts[0] if len(parts) == 1 else b"".join(parts)), True

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The payload as it arrives: everything buffered at each step, in one piece."""
        while chunk := await self._conn.next_chunk():
            yield chunk

    def release(self) -> None:
        """Hand the connection back if the body was read to its end; close it otherwise."""
        if self._released:
            return
        self._released = True
        self._pool.give_back(self._conn)


class Pool:
    """Keep-alive connections per origin, newest idle first; no cap on how many."""

    def __init__(
        self,
        *,
        connect_timeout: float | None,
        read_timeout: float | None,
        tls: ssl.SSLContext | None = None,  # the system's trust store when None
    ) -> None:
        self.read_timeout = read_timeout
        self.loop = asyncio.get_running_loop()
        self._origins: dict[tuple[str, str], Origin] = {}
        self._idle: dict[Hashable, collections.deque[Connection]] = {}
        self._open: set[Connection] = set()
        self._connector = Connector(self.loop, timeout=connect_timeout, tls=tls)
        self.closed = False

    async def request(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> Response:
        """Send one request; returns once the answer's head is in (the body is read later)."""
        scheme, netloc, target = split_url(url)
        origin = self._origins.get((scheme, netloc))
        if origin is None:
            origin = self._origins[(scheme, netloc)] = parse_origin(scheme, netloc)
        head = _serialize(method, target, origin.host_header, headers, body)
        conn = self._take_idle(origin)
        if conn is None:
            return await self._exchange(await self._connect(origin), method, head, body)
        sent = self.loop.time()
        try:
            return await self._exchange(conn, method, head, body)
        except ConnectionLost:
            if conn.received or self.loop.time() - sent > RACE_SECONDS:
                raise
        response = await self._exchange(await self._connect(origin), method, head, body)
        response.resent = True
        return response

    async def _exchange(self, conn: Connection, method: str, head: bytes, body: bytes) -> Response:
        try:
            conn.start(head, body, head_request=method == "HEAD")
            answer = await conn.wait_head()
        except BaseException:
            conn.close()  # an error, or the caller cancelled: its answer would be lost
            raise
        return Response(answer, conn, self)

    def give_back(self, conn: Connection) -> None:
        if self.closed or not conn.finished_cleanly():
            conn.close()
            return
        conn.park()
        origin = conn.origin
        idle = self._idle.get(origin)
        if idle is None:
            idle = self._idle[origin] = collections.deque()
        idle.append(conn)
        # The oldest idle connections sit at the left: close the expired ones as we pass.
        while idle and conn.idle_since - idle[0].idle_since > KEEPALIVE_SECONDS:
            idle.popleft().close()

    def _take_idle(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        oldest_allowed = self.loop.time() - KEEPALIVE_SECONDS
        while idle:
            conn = idle.pop()
            if conn.idle_since >= oldest_allowed and not conn.closed:
                return conn
            conn.close()
        return None

    async def _connect(self, origin: Origin) -> Connection:
        if self.closed:
            raise RuntimeError("the pool is closed")
        conn = await self._connector.open(origin, self._new_connection)
        if self.closed:  # closed while this one was opening
            conn.close()
            raise RuntimeError("the pool is closed")
        conn.origin = origin
        conn.on_lost = self._forget
        self._open.add(conn)
        return conn

    def _new_connection(self) -> Connection:
        return Connection(self.loop, self.read_timeout)

    def _forget(self, conn: Connection) -> None:
        self._open.discard(conn)
        idle = self._idle.get(conn.origin)
        if idle is not None and not conn.active and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        """Close every connection, idle or in use; later requests fail."""
        self.closed = True
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()


def _serialize(
    method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    """The request's head: its line, Host, the headers as given, Content-Length."""
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in headers)
    if body or method in _BODY_METHODS:
        lines.append(f"Content-Length: {len(body)}\r\n")
    lines.append("\r\n")
    text = "".join(lines)
    # A line break inside a name or value would smuggle a header (or a request) in.
    breaks = len(lines) + 1  # the request line and Host share the first piece
    if text.count("\n") != breaks or text.count("\r") != breaks:
        raise ValueError("line break in the request target or a header")
    try:
        return text.encode("latin-1")  # header values came from latin-1: same bytes out
    except UnicodeEncodeError:
        return text.encode("utf-8")
