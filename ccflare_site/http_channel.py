"""daphne's HTTP/1.1 connections with request deadlines and clean 408/414/431 answers.

Twisted's HTTPChannel only has an idle timeout, reset by every byte, so a client
trickling one byte every few seconds holds a socket for ever; and it answers an
over-long header with a bare 400 or by dropping the connection. GuardedChannel
adds two deadlines on the client *sending* its request (the response, which may
stream for many minutes, has none) and answers oversized requests with their
own status. tuning.install_guarded_channel() puts it under daphne.
"""

import json
import re
import time
from typing import Any

from twisted.internet.base import DelayedCall
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.http_headers import Headers

from analytics.models import Request
from ccflare_site import body_budget, middleware
from proxy import handler, replies

# After a rejection the client may still be sending; reading and dropping that
# for a moment lets it see the answer instead of a connection reset.
LINGER_SECONDS = 5.0

TIMED_OUT = b"408 Request Timeout"
URI_TOO_LONG = b"414 URI Too Long"
HEADERS_TOO_LARGE = b"431 Request Header Fields Too Large"
BAD_REQUEST = b"400 Bad Request"
TOO_MANY_BODIES = b"503 Service Unavailable"
TOO_LARGE = b"413 Content Too Large"
_SMALL = body_budget.SMALL  # a body up to this is not counted against the budget
_CR, _LF, _CRLF = 13, 10, b"\r\n"  # an int: `in` tests a single byte fastest as one
# On every answer of the server's own: a browser never reads its JSON as anything else.
_NOSNIFF = b"X-Content-Type-Options: nosniff\r\n"
# What begins an obs-fold line: a space or a tab (never an empty line, which ends the head).
_FOLD = (b" ", b"\t")
# The end of a head: the last header line's LF, then the empty line.
_END_OF_HEAD = b"\n\r\n"
# An absolute-form request target (RFC 9112 section 3.2.2): scheme, authority, the rest.
_ABSOLUTE_FORM = re.compile(rb"https?://([^/?#@\s]+)([/?][^#]*)?", re.IGNORECASE)
# What each refusal says in its body.
REASONS = {
    TIMED_OUT: "The request did not arrive in time",
    URI_TOO_LONG: "The request line is too long",
    HEADERS_TOO_LARGE: "The request's headers are too large or too many",
    BAD_REQUEST: "The request is malformed",
    TOO_MANY_BODIES: (
        "The server holds as many request bodies as it may at once (MAX_BODIES_MB); retry shortly"
    ),
    TOO_LARGE: "A chunk of the request body is larger than the body may be (MAX_BODY_MB)",
}
# Anthropic's error type of a refusal on /v1/, when it is not invalid_request_error.
_ERROR_TYPES = {TOO_MANY_BODIES: "api_error", TOO_LARGE: "request_too_large"}


class GuardedChannel(http.HTTPChannel):
    """An HTTPChannel whose request must arrive within two deadlines.

    The header deadline starts at a request's first byte (an idle keep-alive
    connection is left to Twisted's idle timeout) and ends when the headers are
    complete; the body deadline then runs until the body is complete. Either
    one missed answers 408 and closes; while one runs, Twisted's idle timeout
    waits. Both are class attributes, set once from settings by
    tuning.install_guarded_channel().

    Those deadlines and Twisted's idle timeout are times kept on the channel and
    checked by one sweep for every connection (DeadlineSweep), instead of three
    timers made and cancelled per request: under load those were most of the
    reactor's timer work and thousands of cancelled timers waiting to be purged
    (docs/performance.md).
    """

    header_timeout_seconds: float = 20.0
    body_timeout_seconds: float = 120.0
    # A body is kept to this many bytes, and one declared longer is refused before it is
    # read: web_request.body_limit(), from MAX_BODY_MB (its default here).
    body_limit: int = 32 * 1024 * 1024 + 1
    # Set for every channel at once by end_keep_alive() when the server starts to drain.
    draining: bool = False
    _deadline_at: float | None = None  # the request's current deadline (monotonic)
    # The chunk that began the request being read, until its head is read: its request
    # line, when a refusal comes before Twisted took it (Twisted refuses a target with a
    # byte that is not ASCII, or one too long). Let go then: it may hold a large body.
    _head_start: bytes = b""
    _idle_at: float | None = None  # when Twisted's idle timeout (timeOut) fires
    # The large body being read, counted against the budget as it arrives (_count_body).
    _hold: body_budget.Hold | None = None
    _host: Any = None  # this end's address, once asked
    _secure: bool | None = None  # whether its transport is TLS, once asked

    def getHost(self) -> Any:  # noqa: N802 (Twisted's name)
        # Every request asks (Twisted's Request, daphne's scope), and the transport asks
        # the kernel each time; an accepted socket's own address never changes.
        if self._host is None:
            self._host = super().getHost()
        return self._host

    def isSecure(self) -> bool:  # noqa: N802 (Twisted's name)
        # Asked for every request (daphne's scope), through zope's adapter lookup: 2 µs.
        # A connection's transport is TLS from its start or never here (no STARTTLS).
        if self._secure is None:
            self._secure = super().isSecure()
        return self._secure

    def writeHeaders(  # noqa: N802 (Twisted's name)
        self, version: bytes, code: bytes, reason: bytes, headers: Any
    ) -> None:
        # Twisted hands the transport a list of four pieces per header, each checked
        # to be bytes on its way into the buffer: 6% of the loop's CPU per answer
        # (docs/performance.md). Joined here into one piece; the values in a Headers
        # were sanitised when they were added, as Twisted's own method relies on.
        if not isinstance(headers, Headers):
            super().writeHeaders(version, code, reason, headers)
            return
        lines = [version + b" " + code + b" " + reason]
        append = lines.append
        for name, values in headers.getAllRawHeaders():
            for value in values:
                append(name + b": " + value)
        lines.append(b"\r\n")
        # A TCP transport; typed by zope interfaces, whose methods the checker cannot read.
        transport: Any = self.transport
        transport.write(b"\r\n".join(lines))

    def checkPersistence(self, request: Any, version: bytes) -> bool:  # noqa: N802
        """Twisted's rule (only HTTP/1.1 stays open, unless it asks to close), the request's
        `Connection` lines read once, as a list (_asks_to_close). Draining, a request still
        arriving is the connection's last one."""
        if self.draining or (version == b"HTTP/1.1" and _asks_to_close(request.requestHeaders)):
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return version == b"HTTP/1.1"

    def close_after_answer(self) -> None:
        """The server is draining: close now if idle, else once the answer in progress ends.

        Left open, a keep-alive connection took new requests for the whole drain, which
        then never emptied, and the answers begun during it were cut at its end.
        """
        if not self.requests:
            self.loseConnection()
            return
        self.persistent = False
        for request in self.requests:
            if not request.startedWriting:
                request.responseHeaders.setRawHeaders(b"connection", [b"close"])

    def connectionMade(self) -> None:  # noqa: N802 (Twisted's name)
        sweep.watch(self)
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        if self._deadline_at is None and not self._handlingRequest:
            self._deadline_at = time.monotonic() + self.header_timeout_seconds
            self._head_start = data
        if self.line_mode and self._folds_a_header(data):
            self._reject(BAD_REQUEST)  # a folded header line (below)
            return
        super().dataReceived(data)
        if self.line_mode and self._deadline_at is not None and self._waits_on_a_bare_lf():
            self._reject(BAD_REQUEST)

    def _waits_on_a_bare_lf(self) -> bool:
        """Whether the head read so far holds a bare LF where Twisted waits for more.

        Twisted ends lines at CRLF only. A bare LF inside a line it has ended makes that
        line malformed (target, header name or value), which it refuses at once; one in
        the line still arriving, or in the last header line (kept until the next line
        shows it is not folded), made it wait for a CRLF until the header deadline and
        answer 408: "GET / HTTP/1.1\\n...", or a CRLF request line and LF headers. Both are
        short (the buffer holds no CRLF once Twisted has read it): no scan of the chunk.
        Not while Twisted is inside its read loop, whose buffer still holds unread lines.
        """
        if self._busyReceiving:
            return False
        return _LF in self._buffer or _LF in getattr(self, "_HTTPChannel__header", b"")

    def _folds_a_header(self, data: bytes) -> bool:
        """Whether this part of a request head continues a header line on the next (obs-fold).

        A line that starts with a space or tab continues the one before (RFC 9112 section
        5.2). Twisted joined the two, so "X-A: a" + " Transfer-Encoding: chunked" was one
        header here and may be two to a proxy in front that does not fold (request
        smuggling): refused with 400, as the RFC allows. Checked per chunk with searches
        in C, up to the end of the head: a Python check per header line cost 5-8 µs a
        request. A request pipelined behind another is searched too: Twisted keeps its
        bytes while it serves the first and then hands them back through dataReceived.
        """
        buffered = self._buffer
        if not buffered:  # the last chunk ended a line
            if data[:1] in _FOLD:
                return self._receivedHeaderSize > 0  # after the request line: a fold
            if data[:2] == _CRLF:
                return False  # the empty line that ends the head
        elif buffered == b"\r" and data[:1] == b"\n":
            return False  # the rest of the empty line
        end = data.find(_END_OF_HEAD)
        end = len(data) if end < 0 else end
        return data.find(b"\n ", 0, end) >= 0 or data.find(b"\n\t", 0, end) >= 0

    def allHeadersReceived(self) -> None:  # noqa: N802
        self._head_start = b""  # Twisted has the request line now
        # Set before the parent runs: with no body, it completes the request at once.
        self._deadline_at = time.monotonic() + self.body_timeout_seconds
        request = self.requests[-1]
        # Typed by Twisted as its Request (a variable it reuses), but the target's bytes.
        target: bytes = self._path  # type: ignore[assignment]
        origin_form = target[:1] == b"/" or self._to_origin_form(request, target)
        if not origin_form or _ambiguous(self._version, request.requestHeaders):
            self._respondToBadRequestAndDisconnect()
            self.length = None  # as Twisted's own refusals: its caller then reads no body
            return
        too_large = self.length is not None and self.length > self.body_limit
        if too_large:
            request.requestHeaders.removeHeader(b"expect")  # no "100 Continue" for it
        elif self.length is None or self.length > _SMALL:
            self._hold_body(request)
        super().allHeadersReceived()
        if too_large:
            self._answer_before_the_body(request)

    def _hold_body(self, request: Any) -> None:
        """Count the body's bytes against the process's budget as they arrive, until the
        request ends (_count_body).

        Only this request's body goes through _count_body, set on the instance: every
        other request's bytes reach Twisted's own method with no Python step between.
        """
        hold = self._hold = body_budget.Hold(body_budget.budget, cap=self.body_limit)
        request.notifyFinish().addBoth(lambda _: hold.release())
        self.rawDataReceived = self._count_body  # type: ignore[method-assign]

    def _count_body(self, data: bytes) -> None:
        """rawDataReceived while a held body arrives: bytes that would pass the budget are
        refused (503), before Twisted reads them into the request; the rest go on."""
        hold = self._hold
        if hold is not None and not hold.add(len(data)):
            self._reject(TOO_MANY_BODIES)
            return
        super().rawDataReceived(data)
        if self.length is None and self._hold is not None:  # chunked, still arriving
            self._check_chunks()

    def _check_chunks(self) -> None:
        """Refuse at once what Twisted's chunked decoder would wait on until the body
        deadline (408, two minutes by default): a chunk-size or trailer line ended by a
        bare LF (it waits for a CRLF), or a chunk declared larger than the body may be (it
        waits for the bytes)."""
        decoder = getattr(self, "_transferDecoder", None)
        if not isinstance(decoder, http._ChunkedTransferDecoder):
            return
        if decoder.state in _LINE_STATES and _has_bare_lf(decoder._buffer):
            self._reject(BAD_REQUEST)
        elif decoder.state == "BODY" and decoder.length > self.body_limit:
            self._reject(TOO_LARGE)

    def _stop_counting(self) -> None:
        # The method set on the instance refers to the channel: dropped, no cycle is left.
        if self._hold is not None:
            self._hold = None
            self.__dict__.pop("rawDataReceived", None)

    def _to_origin_form(self, request: Any, target: bytes) -> bool:
        """An absolute-form target (`http://host/v1/models`) read as its origin form, whose
        authority replaces the Host header, as RFC 9112 requires; False for any other form
        (`*`, CONNECT's `host:port`), which is refused.

        Left as it was, the whole URL was the path: no route matched, so a /v1/ or /api/
        request got Django's HTML 404, and its authority was never checked as a Host.
        """
        absolute = _ABSOLUTE_FORM.fullmatch(target)
        if absolute is None:
            return False
        authority, rest = absolute.group(1), absolute.group(2) or b""
        self._path = rest if rest[:1] == b"/" else b"/" + rest  # type: ignore[assignment]
        request.requestHeaders.setRawHeaders(b"host", [authority])
        return True

    def _answer_before_the_body(self, request: Any) -> None:
        """A body declared larger than the limit is refused before it is read, not after.

        The app gets the request now, with no body: its Content-Length check answers 413
        and records it. The connection then closes, so the body's bytes, which the client
        may still send, are never read, let alone as a next request.
        """
        self.length = 0  # the parent completes a request of length 0 at once
        self.persistent = False
        request.responseHeaders.setRawHeaders(b"connection", [b"close"])

    def allContentReceived(self) -> None:  # noqa: N802
        self._deadline_at = None
        self._stop_counting()  # the body is whole: bytes after it are the next request's
        super().allContentReceived()

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        if self._deadline_at is not None and not self.line_mode and not self._handlingRequest:
            self._record_left_mid_body()
        self._deadline_at = None
        self._stop_counting()
        sweep.forget(self)
        super().connectionLost(reason)

    def _record_left_mid_body(self) -> None:
        """The client left while its body arrived: daphne hands a request to the app only
        once its body is whole, so the proxy never saw it, and it was never recorded."""
        path: bytes = getattr(self, "_path", b"")
        if path.startswith(b"/v1/"):
            handler.record_refusal(
                getattr(self, "_command", b"").decode("latin-1"),
                path.split(b"?", 1)[0].decode("latin-1"),
                None,
                "Client disconnected before its body arrived",
                Request.Terminal.CLIENT_CANCELLED,
            )

    def handed_over(self) -> None:
        """The connection now belongs to another protocol (daphne's websocket one).

        Its end reaches that protocol, not this channel, whose connectionLost never runs:
        without this the sweep held every upgraded connection's channel for ever.
        """
        self._deadline_at = self._idle_at = None
        sweep.forget(self)

    # Twisted's TimeoutMixin, on the sweep: the same meaning, no timer of its own.
    def setTimeout(self, period: int | None) -> int | None:  # noqa: N802
        previous, self.timeOut = self.timeOut, period
        self._idle_at = None if period is None else time.monotonic() + period
        return previous

    def resetTimeout(self) -> None:  # noqa: N802
        if self._idle_at is not None and self.timeOut is not None:
            self._idle_at = time.monotonic() + self.timeOut

    def check_deadlines(self, now: float) -> None:
        """Called by the sweep: act on a deadline or idle timeout that has passed.

        While a request arrives its deadline alone applies: Twisted's idle timeout (60 s)
        closed a stalled body's connection silently before its deadline (120 s) could
        answer 408 and record it. Between requests the idle timeout closes a kept-alive
        connection silently, as before: an answer then would meet the client's next
        request.
        """
        if self._deadline_at is not None:
            if now >= self._deadline_at:
                self._deadline_at = None
                self._reject(TIMED_OUT)
        elif self._idle_at is not None and now >= self._idle_at:
            self._idle_at = None
            self.timeoutConnection()

    def lineLengthExceeded(self, line: bytes) -> None:  # noqa: N802
        # Only the request line and header lines are read as lines; nothing has
        # been counted yet while the request line is still arriving.
        self._reject(URI_TOO_LONG if self._receivedHeaderSize == 0 else HEADERS_TOO_LARGE)

    def _respondToBadRequestAndDisconnect(self) -> None:  # noqa: N802
        # Twisted's one answer for every malformed request; the header limits
        # (totalHeadersSize, maxHeaders) have a status of their own.
        too_large = (
            self._receivedHeaderSize > self.totalHeadersSize
            or self._receivedHeaderCount > self.maxHeaders
        )
        self._reject(HEADERS_TOO_LARGE if too_large else BAD_REQUEST)

    def _reject(self, status: bytes) -> None:
        """Answer `status`, stop parsing, and close once the client has read it.

        The write side is shut (FIN after the answer) and whatever the client
        still sends is dropped, so the answer is not lost to a reset; a client
        that never closes is cut off after LINGER_SECONDS.
        """
        self._deadline_at = self._hold = None
        # All three: a rejection from allHeadersReceived returns into a parse loop that
        # would otherwise go on to feed the body (raw data) to the request.
        self.dataReceived = self.lineReceived = self.rawDataReceived = _drop  # type: ignore[method-assign,assignment]
        # A TCP transport; typed by zope interfaces, whose methods the checker cannot read.
        transport: Any = self.transport
        # Twisted's, once it took the request line; else as far as it came.
        method, path = _request_line(self._head_start)
        method, path = getattr(self, "_command", method), getattr(self, "_path", path)
        # A 503 is the server's state, not the request's: clients retry it, after a second.
        body = _refusal_body(path, REASONS[status], _ERROR_TYPES.get(status))
        retry = b"Retry-After: 1\r\n" if status[:1] == b"5" else b""
        transport.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Type: application/json\r\n"
            + _NOSNIFF
            + retry
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        self._networkProducer.unregisterProducer()
        transport.loseWriteConnection()
        if self._abortingCall is None:
            self._abortingCall = self.callLater(LINGER_SECONDS, self.forceAbortClient)
        if path.startswith(b"/v1/"):
            target = path.split(b"?", 1)[0].decode("latin-1")
            handler.record_refusal(
                method.decode("latin-1"), target, int(status[:3]), REASONS[status]
            )


def _request_line(head: bytes) -> tuple[bytes, bytes]:
    """The method and target of the request line that `head` begins with, as far as they
    came (empty when none): the error's shape and the record of a refusal need them."""
    parts = head.split(b"\n", 1)[0].rstrip(b"\r").split(b" ", 2)
    return parts[0], parts[1] if len(parts) > 1 else b""


def _refusal_body(path: bytes, message: str, error_type: str | None) -> bytes:
    """The error in the shape its client reads: the API's under /api/, else Anthropic's
    (the clients that send most requests, on /v1/, read it; a request with no target)."""
    if middleware.is_api_path(path.decode("latin-1")):
        return json.dumps({"error": message}).encode()
    return replies.error_body(error_type or "invalid_request_error", message)


def _asks_to_close(headers: Headers) -> bool:
    """Whether a `Connection` line lists `close` (RFC 9110 §7.6.1: a comma-separated list,
    over any number of lines). Twisted reads the first line's words split at spaces, so
    `Connection: close, x-api-key` kept the connection open."""
    lines = headers.getRawHeaders(b"connection")
    return lines is not None and any(
        token.strip().lower() == b"close" for line in lines for token in line.split(b",")
    )


# The chunked decoder's states that read a line up to its CRLF.
_LINE_STATES = frozenset({"CHUNK_LENGTH", "TRAILER"})


def _has_bare_lf(line: bytearray) -> bool:
    """Whether an unfinished line holds an LF without its CR."""
    at = line.find(_LF)
    while at >= 0:
        if at == 0 or line[at - 1] != _CR:
            return True
        at = line.find(_LF, at + 1)
    return False


def _ambiguous(version: bytes, headers: Headers) -> bool:
    """A request head a proxy in front of this one might read otherwise: refused with 400.

    An HTTP/1.1 request without Host, and any with two (RFC 9112 section 3.2: a server
    MUST answer 400; /v1/ read the last one, /health and Django the first or both), and
    a second Transfer-Encoding line, whatever it says: Twisted skips an "identity"
    one, so "chunked" then "identity" was read as chunked (request smuggling). An
    HTTP/1.0 request with any Transfer-Encoding too: 1.0 has none, so its framing is
    faulty (RFC 9112 section 6.1) and a 1.0 proxy in front reads the body otherwise,
    while Twisted decoded it as chunked. And one whose final coding is not chunked
    (RFC 9112 section 6.1: a server MUST answer 400 and close): Twisted read "identity"
    as no coding and framed the body by its Content-Length, where a proxy in front may
    read to the close. Checked once per request, not per header line.
    """
    # Twisted's own dict, under its canonical names: hasHeader encodes the name each time.
    raw = headers._rawHeaders
    hosts = len(raw.get(b"Host", ()))
    if hosts > 1 or (hosts == 0 and version == b"HTTP/1.1"):
        return True
    encodings = raw.get(b"Transfer-Encoding")
    if encodings is None:
        return False
    if len(encodings) > 1 or version != b"HTTP/1.1":
        return True
    return encodings[0].rpartition(b",")[2].strip(b" \t").lower() != b"chunked"


def _drop(*_args: object) -> None:
    pass


class DeadlineSweep:
    """One reactor timer that checks every open connection's deadlines.

    It runs every `interval` seconds while connections are open, so a deadline
    fires up to that late (tuning sets it to a quarter of the shortest deadline,
    at most a second).
    """

    interval: float = 1.0

    def __init__(self) -> None:
        self.channels: set[GuardedChannel] = set()
        self._call: DelayedCall | None = None
        self._call_later: Any = None

    def watch(self, channel: GuardedChannel) -> None:
        self.channels.add(channel)
        if self._call is None:
            self._call_later = channel.callLater  # the reactor's (a test's Clock)
            self._call = self._call_later(self.interval, self._sweep)

    def forget(self, channel: GuardedChannel) -> None:
        self.channels.discard(channel)

    def _sweep(self) -> None:
        self._call = None
        now = time.monotonic()
        for channel in list(self.channels):
            channel.check_deadlines(now)
        if self.channels:
            self._call = self._call_later(self.interval, self._sweep)


sweep = DeadlineSweep()


def end_keep_alive() -> None:
    """On shutdown: no connection takes another request (GuardedChannel.close_after_answer)."""
    GuardedChannel.draining = True
    for channel in list(sweep.channels):
        channel.close_after_answer()


def build_protocol(factory: http.HTTPFactory) -> http._GenericHTTPChannelProtocol:
    """What an HTTPFactory's `protocol` builds per connection: ours, in Twisted's wrapper.

    Twisted's own _genericHTTPChannelProtocolFactory with GuardedChannel in place
    of HTTPChannel; the wrapper is what switches to HTTP/2 when negotiated.
    """
    return http._GenericHTTPChannelProtocol(GuardedChannel())
