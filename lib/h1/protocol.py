"""One HTTP/1.1 client connection as an asyncio.Protocol: response parsing and body framing.

Everything is parsed as it arrives, in `data_received`: the status line and headers in one go
once the blank line is in, then the body de-framed (Content-Length, chunked, or up to EOF) into
a queue of payload chunks the reader takes from. The reader's side waits on one future at a
time; the read timeout is one timer per connection, re-armed only when it fires while a wait
is under way (no timer per chunk). The same timer holds the deadline of a head, chunk-size
line or trailer that came in part (`_check_pace`). The pool around it is lib/h1/pool.py.
"""

import asyncio
from collections.abc import Callable, Hashable

from lib.h1.errors import (
    ConnectionLost,
    HeadersTooLarge,
    MalformedResponse,
    ReadTimeout,
    SlowFraming,
    SlowHead,
    UpstreamError,
)
from lib.h1.head import MAX_HEAD_BYTES, BareLineFeed, Head, bare_lf_head, parse_head

MAX_CHUNK_LINE = 4096  # a chunk-size line with extensions; real ones are a few bytes
# Reading pauses past this many unread payload bytes and resumes once the reader took them:
# the client's pace bounds what one response holds in memory.
HIGH_WATER = 256 * 1024
# Interim (1xx) answers taken before the real one: an upstream sending them for ever
# would otherwise hold the request, each one restarting the read timeout.
MAX_INTERIM = 16
# A head must be whole this long after its first byte: each byte restarts the read
# timeout, so an upstream trickling one every few seconds held the request for as long
# as MAX_HEAD_BYTES lasted (a day and more). Real heads arrive in one packet. The same
# holds for the chunked framing's own lines: a chunk-size line and the trailer.
HEAD_SECONDS = 30.0
# uvloop rounds timers to the millisecond: one firing this early still counts as due.
_TIMER_SLACK = 0.002

_NO_BODY_STATUSES = frozenset({204, 304})
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_JOIN_LIMIT = 64 * 1024  # a body up to this size goes out in one piece with its head


class Connection(asyncio.Protocol):
    """One keep-alive connection; serves one request at a time (`start` resets its state)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float | None) -> None:
        self.loop = loop
        self.read_timeout = read_timeout
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.origin: Hashable = None  # the pool's key for it
        self.on_lost: Callable[[Connection], None] | None = None  # the pool's forget
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wait_started = 0.0
        self._paused = False
        self._reset()

    def _reset(self) -> None:
        self.active = False  # a request is under way (else idle: any byte or EOF is a close)
        self.received = False  # any byte of this request's answer arrived
        self.head: Head | None = None
        self.error: UpstreamError | None = None
        self.done = False  # the body is complete
        self.reusable = False
        # A list, not a deque: it rarely holds more than one chunk, and an empty deque
        # costs a 500-byte block per open stream.
        self.chunks: list[bytes] = []
        self.buffered = 0
        self._raw = bytearray()  # head bytes so far, or chunked framing not yet decoded
        self._interim = 0  # 1xx answers so far
        # When a head, chunk-size line or trailer came only in part (`_check_pace`).
        self._part_began: float | None = None
        self._left = 0  # body bytes still due (Content-Length), or of the current chunk
        self._feed: Callable[[bytes], None] = self._feed_head
        self._head_request = False

    # --- the request side ------------------------------------------------------------

    def start(self, head: bytes, body: bytes, *, head_request: bool) -> None:
        """Send one request; its answer is read with `wait_head` and `next_chunk`."""
        assert self.transport is not None and not self.active
        self._reset()
        self.active = True
        self._head_request = head_request
        self._send(head, body)

    def _send(self, head: bytes, body: bytes) -> None:
        # Its own function so that a profile tells the kernel's send (uvloop writes at once,
        # holding the GIL) from the client's Python: bench/profile.py counts it apart.
        assert self.transport is not None
        if len(body) > _JOIN_LIMIT:
            # Claude Code's bodies run to megabytes: a vectored write spares copying them.
            self.transport.writelines((head, body))
        else:
            self.transport.write(head + body if body else head)

    async def wait_head(self) -> Head:
        while self.head is None:
            if self.error is not None:
                raise self.error
            await self._wait()
        return self.head

    async def next_chunk(self) -> bytes:
        """Every payload byte buffered now, waiting for some if none; b"" at the end."""
        while not self.chunks:
            if self.done:
                return b""
            if self.error is not None:
                raise self.error
            await self._wait()
        chunks = self.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()
        return data

    def finished_cleanly(self) -> bool:
        """The whole answer was read and the connection can carry another request."""
        return self.done and self.reusable and not self.chunks and not self.closed

    def park(self) -> None:
        self.active = False
        self.idle_since = self.loop.time()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True

    async def _wait(self) -> None:
        loop = self.loop
        self._waiter = waiter = loop.create_future()
        if self.read_timeout:
            self._wait_started = loop.time()
        if self._timer is None and (self.read_timeout or self._part_began is not None):
            self._arm()
        try:
            await waiter
        finally:
            self._waiter = None

    def _arm(self) -> None:
        """The one timer, set anew for the nearest deadline (no timer per wait or chunk)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._deadline()
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _deadline(self) -> float | None:
        """The read timeout's end for the current wait, or a part's (`_check_pace`) if sooner."""
        deadline = self._wait_started + self.read_timeout if self.read_timeout else None
        if self._part_began is not None:
            part = self._part_began + HEAD_SECONDS
            deadline = part if deadline is None else min(deadline, part)
        return deadline

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline()
        if self._waiter is None or deadline is None:
            return  # nobody is waiting: silence is the reader's own pace
        now = self.loop.time() + _TIMER_SLACK
        if now < deadline:
            self._timer = self.loop.call_at(deadline, self._on_timer)
            return
        if self._part_began is not None and now >= self._part_began + HEAD_SECONDS:
            self._fail(self._too_slow())
        else:
            self._fail(ReadTimeout(f"no data for {self.read_timeout:g} s"))
        self.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self.error is None and not self.done:
            self.error = error
        self.reusable = False
        self._wake()

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.active:
            self.close()  # bytes nobody asked for: this connection's framing is lost
            return
        self.received = True
        try:
            self._feed(data)
        except MalformedResponse as exc:
            self._fail(exc)
            self.close()
            return
        if self.buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
            # A framing line left in part is ours to finish reading now: its clock starts
            # again with the next read (`_check_pace`), not while the reader catches up.
            self._part_began = None
        self._wake()

    def eof_received(self) -> bool:
        # Closed from here on: the pool must not pick it in the moment before connection_lost.
        self.closed = True
        self._end_of_stream(None)
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_stream(exc)
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.on_lost is not None:
            self.on_lost(self)

    def _end_of_stream(self, exc: Exception | None) -> None:
        self.reusable = False
        if not self.active or self.done:
            return
        if self.head is not None and self._feed == self._feed_to_eof and exc is None:
            self.done = True
            self._wake()
            return
        where = "before the response" if self.head is None else "before the body was complete"
        reason = f" ({type(exc).__name__})" if exc is not None else ""
        self._fail(ConnectionLost(f"upstream closed the connection {where}{reason}"))

    # --- framing ---------------------------------------------------------------------

    def _push(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)

    def _feed_head(self, data: bytes) -> None:
        raw = self._raw
        while True:
            start = max(0, len(raw) - 3)
            raw += data
            end = raw.find(b"\r\n\r\n", start)
            found = None
            if end >= 0:
                if end > MAX_HEAD_BYTES:
                    raise HeadersTooLarge(f"response head over {MAX_HEAD_BYTES} bytes")
                try:
                    found = parse_head(bytes(raw[:end])), end + 4
                except BareLineFeed:  # a bare-LF head, and a CRLF CRLF in the same read
                    start = 0
            if found is None:
                # Off the usual path (heads come whole, in CRLF): a bare-LF head, or a part.
                found = bare_lf_head(raw, start)
                if found is None:
                    self._head_in_part(raw)
                    return
            head, body_at = found
            rest = bytes(raw[body_at:])
            del raw[:]
            self._part_began = None
            if not 100 <= head.status < 200:
                break
            # An interim answer (103 Early Hints): the real one follows. In a loop, not by
            # recursion (thousands in one packet hit the recursion limit), and not for ever.
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise MalformedResponse(f"more than {MAX_INTERIM} interim (1xx) answers")
            data = rest
        self.head = head
        self.reusable = head.keep_alive
        self._choose_framing(head)
        if rest:
            self._feed(rest)

    def _head_in_part(self, raw: bytearray) -> None:
        if len(raw) > MAX_HEAD_BYTES:
            raise HeadersTooLarge(f"response head over {MAX_HEAD_BYTES} bytes")
        if raw:  # none yet after an interim answer: the next head's clock has not started
            self._check_pace()

    def _check_pace(self) -> None:
        """A head, chunk-size line or trailer that came in part must be whole HEAD_SECONDS
        after its first byte, however its bytes come: each restarts the read timeout, and
        the timer (`_on_timer`) holds this deadline too. Never on the usual path: they come
        whole, in one read."""
        now = self.loop.time()
        if self._part_began is None:
            self._part_began = now
            self._arm()  # the timer may be set for the read timeout, later
        elif now - self._part_began > HEAD_SECONDS:
            raise self._too_slow()

    def _too_slow(self) -> MalformedResponse:
        if self.head is None:
            return SlowHead(f"response head not complete {HEAD_SECONDS:g} s after its first byte")
        return SlowFraming(f"chunked framing line not complete {HEAD_SECONDS:g} s after it began")

    def _choose_framing(self, head: Head) -> None:
        if self._head_request or head.status in _NO_BODY_STATUSES:
            self._finish_body()
        elif head.chunked:
            self._feed = self._feed_chunked
        elif head.length is not None:
            self._left = head.length
            self._feed = self._feed_length
            if head.length == 0:
                self._finish_body()
        else:
            self.reusable = False  # only the close ends this body
            self._feed = self._feed_to_eof

    def _finish_body(self) -> None:
        self.done = True
        self._feed = self._feed_extra

    def _feed_extra(self, data: bytes) -> None:
        # Bytes past the end of the answer: the server is out of step with us.
        self.reusable = False

    def _feed_to_eof(self, data: bytes) -> None:
        self._push(data)

    def _feed_length(self, data: bytes) -> None:
        left = self._left
        if len(data) < left:
            self._left = left - len(data)
            self._push(data)
            return
        self._push(data[:left] if len(data) > left else data)
        self._finish_body()
        if len(data) > left:
            self._feed_extra(data)

    def _feed_chunked(self, data: bytes) -> None:
        raw = self._raw
        raw += data
        pos = 0
        while pos < len(raw) and not self.done:
            if self._left > 0:  # inside a chunk's data
                take = min(self._left, len(raw) - pos)
                self._push(bytes(raw[pos : pos + take]))
                pos += take
                self._left -= take
                if self._left == 0:
                    self._left = -1  # its CRLF is next
                continue
            advanced = self._chunk_boundary(raw, pos)
            if advanced == pos:
                break  # the rest of this line has not arrived
            pos = advanced
        del raw[:pos]
        if self.done:
            if raw:
                self._feed_extra(bytes(raw))
        elif raw:  # a size line, a chunk's CRLF or the trailer came in part
            self._check_pace()
        elif self._part_began is not None:
            self._part_began = None

    def _chunk_boundary(self, raw: bytearray, pos: int) -> int:
        """Consume a chunk's trailing CRLF, a size line, or the trailer; returns the new pos."""
        if self._left == -1:
            if len(raw) - pos < 2:
                return pos
            if raw[pos : pos + 2] != b"\r\n":
                raise MalformedResponse("chunk data longer than its size")
            self._left = 0
            return pos + 2
        if self._left == -2:  # after the last chunk: trailer fields, then a blank line
            return self._chunk_trailer(raw, pos)
        end = raw.find(b"\r\n", pos, pos + MAX_CHUNK_LINE)
        if end < 0:
            if len(raw) - pos >= MAX_CHUNK_LINE:
                raise MalformedResponse("chunk size line too long")
            return pos
        size = bytes(raw[pos:end].split(b";", 1)[0].strip(b" \t"))
        if not size or size.strip(_HEX_DIGITS):  # int() would also take "0x", "_", "+"
            raise MalformedResponse("bad chunk size")
        self._left = int(size, 16)
        if self._left == 0:
            self._left = -2
        return end + 2

    def _chunk_trailer(self, raw: bytearray, pos: int) -> int:
        if raw[pos : pos + 2] == b"\r\n":
            self._finish_body()
            return pos + 2
        end = raw.find(b"\r\n\r\n", pos)
        if end < 0:
            if len(raw) - pos > MAX_HEAD_BYTES:
                raise HeadersTooLarge("chunked trailer too large")
            return pos
        self._finish_body()
        return end + 4
