"""Incremental Server-Sent-Events parser, fed the raw bytes of a streamed response."""

from typing import NamedTuple

# A single byte tested as an integer: `b"\r" in chunk` first tries the needle as one and
# raises and clears a TypeError each time (docs/performance.md, seventh round).
_CR = ord("\r")
_BOM = b"\xef\xbb\xbf"

# An upstream that never ends an event would grow the buffer without bound.
# Anthropic's largest event is one delta of a few KiB, so 1 MiB without an
# event end can only be a broken or hostile stream: drop it, keep the proxy.
MAX_BUFFERED_BYTES = 1 << 20


class Event(NamedTuple):
    event: str  # "message" when the stream sent no `event:` line, as the SSE spec says
    data: str


class SSEParser:
    """Turns chunks of an event stream into complete events, wherever the chunks split.

    Bytes are held until a blank line ends an event; only then are they split into
    fields and decoded, so a boundary inside a line, a CRLF pair or a UTF-8 character
    never matters. Line ends are normalized to LF as chunks arrive.
    """

    __slots__ = ("_buf", "_after_cr", "_drop_tail", "_start")

    def __init__(self) -> None:
        self._buf = bytearray()  # LF-only bytes of the unfinished event
        self._after_cr = False  # the last chunk ended in CR, so a leading LF is its pair
        self._drop_tail: bytes | None = None  # set while skipping an oversized event
        # The stream's first bytes while they may be a byte order mark; None after them.
        self._start: bytes | None = b""

    def feed(self, chunk: bytes) -> list[Event]:
        """Return the events that `chunk` completes, in stream order; keep the rest."""
        if self._start is not None:
            chunk = self._without_bom(chunk)
        chunk = self._normalize_line_ends(chunk)
        if self._drop_tail is not None:
            chunk = self._skip_dropped_event(chunk)
        if not chunk:
            return []
        buf = self._buf
        # The buffer never holds a blank line, but one may straddle its old end.
        start = max(len(buf) - 1, 0)
        buf += chunk
        end = buf.rfind(b"\n\n", start)
        if end == -1:
            self._enforce_cap()
            return []
        blocks = buf[:end].split(b"\n\n")
        del buf[: end + 2]
        self._enforce_cap()
        return [event for block in blocks if (event := _parse_event(block)) is not None]

    def _without_bom(self, chunk: bytes) -> bytes:
        """The stream without the UTF-8 byte order mark it may begin with (the SSE spec
        skips one), which would otherwise hide the first event's field name."""
        start = (self._start or b"") + chunk
        if len(start) < len(_BOM) and _BOM.startswith(start):
            self._start = start  # a BOM split across chunks, so far
            return b""
        self._start = None
        return start.removeprefix(_BOM)

    def _normalize_line_ends(self, chunk: bytes) -> bytes:
        """Map CRLF and lone CR to LF, remembering a final CR whose LF may come next."""
        if self._after_cr and chunk:
            self._after_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if _CR in chunk:
            self._after_cr = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return chunk

    def _enforce_cap(self) -> None:
        if len(self._buf) > MAX_BUFFERED_BYTES:
            # Skip the rest of this event too: its tail alone would parse as garbage fields.
            self._drop_tail = b"\n" if self._buf.endswith(b"\n") else b""
            self._buf.clear()

    def _skip_dropped_event(self, chunk: bytes) -> bytes:
        """Discard input up to the blank line ending the dropped event; return what follows."""
        probe = (self._drop_tail or b"") + chunk
        end = probe.find(b"\n\n")
        if end == -1:
            self._drop_tail = b"\n" if probe.endswith(b"\n") else b""
            return b""
        self._drop_tail = None
        return probe[end + 2 :]


def _parse_event(block: bytes | bytearray) -> Event | None:
    """Build the event from one block of LF-separated field lines; None without data lines."""
    name = b""
    data: list[bytes | bytearray] = []
    for line in block.split(b"\n"):
        # Comments (":...") and blank lines have an empty field name; id/retry are unused.
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value
    if not data:
        return None
    return Event(
        name.decode("utf-8", "replace") or "message",
        b"\n".join(data).decode("utf-8", "replace"),
    )


# The blank line that ends an event, in each line ending a stream may use.
_EVENT_ENDS = (b"\n\n", b"\r\n\r\n", b"\r\r")


class WholeEvents:
    """Relayed bytes cut at the end of their last whole event: what may go to the client
    now; the start of an event still arriving is held back until its end comes.

    A stream the upstream cut midway then never leaves the client half an event: read
    together with the proxy's error event that follows, it was one event of broken JSON
    (the SDK raised a JSONDecodeError, never the API error). The bytes are the upstream's,
    in order; an event waits only for its own end, which nearly always comes in the same
    read.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = b""

    def take(self, chunk: bytes) -> bytes:
        """What of the stream so far may be relayed now (perhaps nothing)."""
        data = self._held + chunk if self._held else chunk
        if data.endswith(_EVENT_ENDS):
            self._held = b""
            return data
        end = max(
            (at + len(mark) for mark in _EVENT_ENDS if (at := data.rfind(mark)) >= 0), default=0
        )
        if len(data) - end > MAX_BUFFERED_BYTES:
            self._held = b""  # no event that long: not SSE as Anthropic writes it, pass it on
            return data
        self._held = data[end:]
        return data[:end]

    def rest(self) -> bytes:
        """What is held back: the end of a stream that ended without ending its event."""
        held, self._held = self._held, b""
        return held
