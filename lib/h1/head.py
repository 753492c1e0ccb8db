"""Parsing one response head: the status line and header fields, and how the body is framed."""

import logging
import re

from lib.escapes import printable
from lib.h1.errors import HeadersTooLarge, MalformedResponse

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


class BareLineFeed(MalformedResponse):
    """The status line taken for a CRLF head's ends in LF alone: the head ends earlier."""


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


def parse_head(block: bytes, *, bare_lf: bool = False) -> Head:
    """The status line and header fields of one response head (without its blank line).

    Raises MalformedResponse for a head that is not HTTP/1.x, a status outside 100-599,
    a malformed line, a framing field in doubt. A field that could not be passed on as it
    came (a name that is no token, a control character but HTAB in its value) is left
    out, and logged once per name: relayed, Twisted refused to write the answer (the client
    waited for ever) or the client refused to read it (and retried).

    `bare_lf`: its lines may end in LF alone (its end was found by `bare_lf_head`). Raises
    BareLineFeed for a head taken as CRLF's whose status line ends in a bare LF: its end
    is `bare_lf_head`'s, before the CRLF CRLF found (one in its body).
    """
    lines = _lf_lines(block) if bare_lf else block.split(b"\r\n")
    head = Head(_status(lines[0]), [])
    head.keep_alive = lines[0][7:8] == b"1"  # HTTP/1.0 is never reused
    fields = lines[1:]
    # A bare-LF head's line ends do not add up to the count: its lines are looked at one
    # by one, as a head with a control character's are.
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
            # The only coding the client can undo, once (RFC 9112 §6.3): any other leaves
            # the body unreadable, e.g. gzip relayed as JSON. `identity` is no coding since
            # RFC 7230; a second line would apply its coding after the first.
            if head.chunked or (value != b"chunked" and value.lower() != b"chunked"):
                raise MalformedResponse(f"Transfer-Encoding other than chunked: {value!r}")
            head.chunked = True
        elif lower == b"connection" and b"close" in value.lower():
            head.keep_alive = False
    if lengths and not head.chunked:  # with Transfer-Encoding, Content-Length is ignored
        head.length = _content_length(lengths)
    return head


def _status(line: bytes) -> int:
    """The status code of an HTTP/1.x status line: 100-599 (RFC 9110 §15), or raises.

    Relayed, a 000 or 099 read as an illegal status line to clients (which retried it), and
    a 600 or 999 passed for a server error (retried, then relayed).
    """
    if not line.startswith(b"HTTP/1.") or len(line) < 12:
        raise MalformedResponse("not an HTTP/1.x status line")
    if 10 in line:  # as an integer: a bytes needle costs ten times more
        raise BareLineFeed("status line ends in a bare LF")
    code = line[9:12]
    if not code.isdigit() or line[12:13] not in (b"", b" ") or not b"100" <= code <= b"599":
        raise MalformedResponse("bad status code")
    return int(code)


def bare_lf_head(raw: bytearray, start: int) -> tuple[Head, int] | None:
    """The head in `raw` whose lines end in a bare LF, and where its body begins; None
    until its blank line came (looked for from `start`). RFC 9112 §2.2 lets a client take
    LF alone as a line's end, as curl and browsers do. Called only where CRLF CRLF was not
    found (or was not the head's end): the first LF LF or LF CRLF then ends the head."""
    lf_lf, lf_crlf = raw.find(b"\n\n", start), raw.find(b"\n\r\n", start)
    if lf_crlf < 0 or 0 <= lf_lf < lf_crlf:
        end, body_at = lf_lf, lf_lf + 2
    else:
        end, body_at = lf_crlf, lf_crlf + 3
    if end < 0:
        return None
    if end > MAX_HEAD_BYTES:
        raise HeadersTooLarge(f"response head over {MAX_HEAD_BYTES} bytes")
    return parse_head(bytes(raw[:end]), bare_lf=True), body_at


def _lf_lines(block: bytes) -> list[bytes]:
    return [line.removesuffix(b"\r") for line in block.split(b"\n")]


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
