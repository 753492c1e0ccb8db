"""Parsing one response head: the status line and header fields, and how the body is framed."""

from lib.h1.errors import MalformedResponse

MAX_HEAD_BYTES = 64 * 1024
# As integers: indexing bytes gives one, where slicing would make a new bytes object.
_BLANKS = b" \t"
# The fields that decide how the body is framed and whether the connection is kept.
_FRAMING = frozenset((b"content-length", b"transfer-encoding", b"connection"))


class Head:
    """What the status line and headers say, and how the body is framed.

    `raw_headers` are the fields in the order they came, values as sent and names in
    lower case (HTTP names are case-insensitive; the proxy relays them lower-cased as
    ASGI wants, and lowering them once here spares every reader doing it again).
    """

    __slots__ = ("status", "raw_headers", "length", "chunked", "keep_alive")

    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.raw_headers = raw_headers
        self.length: int | None = None  # Content-Length, when that frames the body
        self.chunked = False
        self.keep_alive = True


def parse_head(block: bytes) -> Head:
    """The status line and header fields of one response head (without its blank line)."""
    lines = block.split(b"\r\n")
    status_line = lines[0]
    if not status_line.startswith(b"HTTP/1.") or len(status_line) < 12:
        raise MalformedResponse("not an HTTP/1.x status line")
    code = status_line[9:12]
    if not code.isdigit() or status_line[12:13] not in (b"", b" "):
        raise MalformedResponse("bad status code")
    head = Head(int(code), [])
    head.keep_alive = status_line[7:8] == b"1"  # HTTP/1.0 is never reused
    lengths: set[bytes] = set()
    append = head.raw_headers.append
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name[-1] in _BLANKS or line[0] in _BLANKS:
            raise MalformedResponse("bad header line")
        lower = _lowered.get(name) or _lower(name)
        value = value.strip(b" \t")
        append((lower, value))
        if lower not in _FRAMING:
            continue
        if lower == b"content-length":
            lengths.add(value)
        elif lower == b"transfer-encoding":
            head.chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            head.keep_alive = head.keep_alive and head.chunked
        elif lower == b"connection" and b"close" in value.lower():
            head.keep_alive = False
    if lengths and not head.chunked:
        head.length = _content_length(lengths)
    return head


# Each name in lower case, made once: an answer's names are the same few every time, and
# every open stream would otherwise keep its own copies (0.8 KB each at 500 streams).
_lowered: dict[bytes, bytes] = {}
_MAX_LOWERED = 1024


def _lower(name: bytes) -> bytes:
    lower = name.lower()
    if len(_lowered) < _MAX_LOWERED:  # an upstream inventing names cannot grow it for ever
        _lowered[name] = lower
    return lower


def _content_length(values: set[bytes]) -> int:
    if len(values) != 1:
        raise MalformedResponse("conflicting Content-Length")
    (value,) = values
    if not value.isdigit():
        raise MalformedResponse("bad Content-Length")
    return int(value)
