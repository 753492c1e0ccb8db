"""daphne's HTTP/1.1 connections with request deadlines and clean 408/414/431 answers.

Twisted's HTTPChannel only has an idle timeout, reset by every byte, so a client
trickling one byte every few seconds holds a socket for ever; and it answers an
over-long header with a bare 400 or by dropping the connection. GuardedChannel
adds two deadlines on the client *sending* its request (the response, which may
stream for many minutes, has none) and answers oversized requests with their
own status. tuning.install_guarded_channel() puts it under daphne.
"""

from typing import Any

from twisted.internet.base import DelayedCall
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http

# After a rejection the client may still be sending; reading and dropping that
# for a moment lets it see the answer instead of a connection reset.
LINGER_SECONDS = 5.0

TIMED_OUT = b"408 Request Timeout"
URI_TOO_LONG = b"414 URI Too Long"
HEADERS_TOO_LARGE = b"431 Request Header Fields Too Large"
BAD_REQUEST = b"400 Bad Request"


class GuardedChannel(http.HTTPChannel):
    """An HTTPChannel whose request must arrive within two deadlines.

    The header deadline starts at a request's first byte (an idle keep-alive
    connection is left to Twisted's idle timeout) and ends when the headers are
    complete; the body deadline then runs until the body is complete. Either
    one missed answers 408 and closes. Both are class attributes, set once from
    settings by tuning.install_guarded_channel().
    """

    header_timeout_seconds: float = 20.0
    body_timeout_seconds: float = 120.0
    _deadline: DelayedCall | None = None

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted's name)
        if self._deadline is None and not self._handlingRequest:
            self._deadline = self.callLater(self.header_timeout_seconds, self._deadline_missed)
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:  # noqa: N802
        self._cancel_deadline()
        # Set before the parent runs: with no body, it completes the request at once.
        self._deadline = self.callLater(self.body_timeout_seconds, self._deadline_missed)
        super().allHeadersReceived()

    def allContentReceived(self) -> None:  # noqa: N802
        self._cancel_deadline()
        super().allContentReceived()

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        self._cancel_deadline()
        super().connectionLost(reason)

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

    def _deadline_missed(self) -> None:
        self._deadline = None
        self._reject(TIMED_OUT)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def _reject(self, status: bytes) -> None:
        """Answer `status`, stop parsing, and close once the client has read it.

        The write side is shut (FIN after the answer) and whatever the client
        still sends is dropped, so the answer is not lost to a reset; a client
        that never closes is cut off after LINGER_SECONDS.
        """
        self._cancel_deadline()
        self.dataReceived = self.lineReceived = _drop  # type: ignore[method-assign,assignment]
        # A TCP transport; typed by zope interfaces, whose methods the checker cannot read.
        transport: Any = self.transport
        transport.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        self._networkProducer.unregisterProducer()
        transport.loseWriteConnection()
        if self._abortingCall is None:
            self._abortingCall = self.callLater(LINGER_SECONDS, self.forceAbortClient)


def _drop(*_args: object) -> None:
    pass


def build_protocol(factory: http.HTTPFactory) -> http._GenericHTTPChannelProtocol:
    """What an HTTPFactory's `protocol` builds per connection: ours, in Twisted's wrapper.

    Twisted's own _genericHTTPChannelProtocolFactory with GuardedChannel in place
    of HTTPChannel; the wrapper is what switches to HTTP/2 when negotiated.
    """
    return http._GenericHTTPChannelProtocol(GuardedChannel())
