"""Client connections that send what was written at the end of the loop's turn.

Twisted buffers every write to a TCP connection and asks the reactor to say when the
socket is writable: on the asyncio reactor that is an `add_writer` per answer, a turn
of the loop, the reactor's callback wrappers around `doWrite`, then a `remove_writer`.
A socket with nothing queued is nearly always writable, so PromptServer runs that same
`doWrite`, through the reactor's own handling of its result, as soon as the current
step of the loop is done. Everything written during the step still leaves in one send
(a reply's head and body together, one segment rather than two), and only what the socket
does not take waits for writability, as it always did. Measured: docs/performance.md.
Nagle's algorithm is off on these connections (TCP_NODELAY, as aiohttp, uvicorn and Bun
set it): what is sent is already gathered per turn, and a stream's event must not wait.
"""

import asyncio
import errno
from typing import Any

from twisted.internet import main, tcp

# An answer's sender waits (PromptServer.drained) while more than HIGH_WATER bytes are
# unsent, until at most LOW_WATER are: a client that reads slowly, or not at all, holds
# its own sender back instead of growing the server's memory without bound.
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024


class PromptServer(tcp.Server):
    _flush_pending = False
    _drain_waiters: list[asyncio.Future[None]] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A stream's events leave one send each. With Nagle's algorithm on (Twisted's
        # default), one that followed an event the client had not acknowledged yet waited
        # for that acknowledgement, which the client may delay up to 40 ms.
        self.setTcpNoDelay(True)

    def startWriting(self) -> None:  # noqa: N802 (Twisted's name)
        if self._flush_pending:
            return
        loop = getattr(self.reactor, "_asyncioEventloop", None)
        if loop is None or self in self.reactor._writers:
            # Not on the asyncio reactor, or already waiting for writability.
            super().startWriting()
            return
        self._flush_pending = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if not self.connected:
            return  # lost meanwhile: Twisted has dropped what was buffered
        # What the reactor does when the socket is writable: doWrite, and close the
        # connection on what that returns (an error, or the end after loseConnection).
        reactor: Any = self.reactor
        reactor._readOrWrite(self, False)
        if self.connected and self._buffered():
            super().startWriting()  # the socket took part: the rest when it is writable

    def writeSomeData(self, data: bytes) -> Any:  # noqa: N802 (Twisted's name)
        """Twisted's, without its retry on EINTR (Python retries itself since 3.5,
        PEP 475) and without a view of the data when it is within SEND_LIMIT."""
        try:
            if len(data) > self.SEND_LIMIT:
                return self.socket.send(memoryview(data)[: self.SEND_LIMIT])
            return self.socket.send(data)
        except OSError as error:
            if error.args[0] in (errno.EWOULDBLOCK, errno.ENOBUFS):
                return 0
            return main.CONNECTION_LOST

    def _buffered(self) -> int:
        return len(self.dataBuffer) - self.offset + self._tempDataLen

    def over_high_water(self) -> bool:
        return bool(self.connected) and self._buffered() > HIGH_WATER

    def drained(self) -> asyncio.Future[None]:
        """Done once at most LOW_WATER bytes are unsent, or the connection is gone."""
        waiter = asyncio.get_running_loop().create_future()
        if self._drain_waiters is None:
            self._drain_waiters = []
        self._drain_waiters.append(waiter)
        return waiter

    def doWrite(self) -> Any:  # noqa: N802 (Twisted's name)
        result = super().doWrite()
        if self._drain_waiters and self._buffered() <= LOW_WATER:
            self._wake_drain_waiters()
        return result

    def connectionLost(self, reason: Any) -> None:  # noqa: N802 (Twisted's name)
        self._wake_drain_waiters()
        super().connectionLost(reason)

    def _wake_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)


def install() -> None:
    """Serve TCP connections with PromptServer (daphne's ports are made after this runs)."""
    tcp.Port.transport = PromptServer
