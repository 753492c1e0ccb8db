"""Parsing one response head: the status line and header fields, and how the body is framed."""

import logging
import re

from lib.escapes import printable
from lib.h1.errors import MalformedResponse

logger = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
# As integers: indexing bytes gives one, where slicing would make a new bytes object.
_BLANKS = b" \t"
# The fields that decide how the body is framed and whether the connection is kept.
_FRAMING = frozenset((b"content-length", b"transfer-encoding", b"connection"))
# RFC 9110 §5.1: a field name is a token. Twisted refuses to write any other (the answer
# then hung), and clients refuse to read one.
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# The control characters but HTAB: none belongs in a field (RFC 9110 §5.5), nor a CR or
# LF but those ending the lines.
_CONTROLS = bytes(range(9)) + bytes(range(10, 32)) + b"\x7f"


class Head:
    """What the status line and headers say, and how the body is framed.

    `raw_headers` are the fields in the order they came, values as sent and names in
    lower case (HTTP names are case-insensitive; the proxy relays them lower-cased as
    ASGI wants, and lowering them once here spares every reader doing it again). A field
    that could not be passed on is left out (parse_head).
    """

    __slots__ = ("status", "raw_headers", "length", "chunked", "keep_alive")

    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.raw_headers = raw_headers
        self.length: int | None = None  # Content-Length, when that frames the body
        self.chunked = False
        self.keep_alive = True


def parse_head(block: bytes) -> Head:
    """The status line and header fields of one response head (without its blank line).

    Raises MalformedResponse for a head that is not HTTP/1.x, a status outside 100-599,
    a malformed line, a framing field in doubt. A field that could not be passed on as it
    came (a name that is no token, a control character but HTAB in its value) is left
    out, and logged once per name: relayed, Twisted refused to write the answer (the client
    waited for ever) or the client refused to read it (and retried).
    """
    lines = block.split(b"\r\n")
    head = Head(_status(lines[0]), [])
    head.keep_alive = lines[0][7:8] == b"1"  # HTTP/1.0 is never reused
    fields = lines[1:]
    if _has_controls(block, len(fields)):
        fields = _without_controls(fields)
    lengths: set[bytes] = set()
    append = head.raw_headers.append
    for line in fields:
        name, colon, value = line.partition(b":")
        if not colon or not name or name[-1] in _BLANKS or line[0] in _BLANKS:
            raise MalformedResponse("bad header line")
        lower = _lowered.get(name) or _lower(name)
        if not lower:  # no token
            continue
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


def _status(line: bytes) -> int:
    """The status code of an HTTP/1.x status line: 100-599 (RFC 9110 §15), or raises.

    Relayed, a 000 or 099 read as an illegal status line to clients (which retried it), and
    a 600 or 999 passed for a server error (retried, then relayed).
    """
    if not line.startswith(b"HTTP/1.") or len(line) < 12:
        raise MalformedResponse("not an HTTP/1.x status line")
    code = line[9:12]
    if not code.isdigit() or line[12:13] not in (b"", b" ") or not b"100" <= code <= b"599":
        raise MalformedResponse("bad status code")
    return int(code)


# Each name in lower case, made once: an answer's names are the same few every time, and
# every open stream would otherwise keep its own copies (0.8 KB each at 500 streams). Only
# tokens are kept: a name found here needs no other check.
_lowered: dict[bytes, bytes] = {}
_MAX_LOWERED = 1024


def _lower(name: bytes) -> bytes:
    """The name in lower case; b"" (and logged) for one that is no token."""
    if _TOKEN.fullmatch(name) is None:
        _dropped(name, "name")
        return b""
    lower = name.lower()
    if len(_lowered) < _MAX_LOWERED:  # an upstream inventing names cannot grow it for ever
        _lowered[name] = lower
    return lower


def _has_controls(block: bytes, fields: int) -> bool:
    """Whether a control character is anywhere in the head but the lines' ends and tabs.

    One pass in C over the whole head (a test of each value measured dearer): deleting
    the control characters takes away exactly each line end's CR and LF, unless there
    is another.
    """
    return len(block) - len(block.translate(None, _CONTROLS)) != 2 * fields


def _without_controls(fields: list[bytes]) -> list[bytes]:
    """The field lines without those that have a control character (off the usual path).

    A framing field with one raises: read one way or the other, the body could be cut
    where the upstream did not end it.
    """
    kept = []
    for line in fields:
        name, colon, _ = line.partition(b":")
        if not colon or len(line.translate(None, _CONTROLS)) == len(line):
            kept.append(line)  # a line without a colon is refused as malformed after
        elif name.strip(b" \t").lower() in _FRAMING:
            raise MalformedResponse("control character in a framing field")
        else:
            _dropped(name, "value" if name.translate(None, _CONTROLS) == name else "name")
    return kept


# The names already logged: once each, a bounded few (an upstream inventing them cannot
# fill the log nor the memory).
_logged: set[bytes] = set()
_MAX_LOGGED = 256


def _dropped(name: bytes, part: str) -> None:
    if name in _logged or len(_logged) >= _MAX_LOGGED:
        return
    _logged.add(name)
    logger.warning(
        "upstream.header_dropped name=%s bad=%s", printable(name.decode("latin-1")), part
    )


def _content_length(values: set[bytes]) -> int:
    if len(values) != 1:
        raise MalformedResponse("conflicting Content-Length")
    (value,) = values
    if not value.isdigit():
        raise MalformedResponse("bad Content-Length")
    return int(value)
