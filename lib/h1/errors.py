"""What the upstream client raises: one base class, names that read well in a routing trace."""


class UpstreamError(Exception):
    """Any failure to get a complete answer from the upstream (network, framing, timeout)."""


class ConnectFailed(UpstreamError):
    """The TCP (or TLS) connection could not be opened."""


class ConnectionRefused(ConnectFailed):
    pass


class ConnectTimeout(ConnectFailed, TimeoutError):
    pass


class OutOfResources(ConnectFailed):
    """This host could not open a socket: it is out of file descriptors (EMFILE, ENFILE) or
    socket memory (ENOBUFS, ENOMEM). Nothing reached the upstream, and no other address or
    credential would fare better until some of them are given back."""


class ConnectionLost(UpstreamError):
    """The connection closed or reset before the response (or its body) was complete."""


class MalformedResponse(UpstreamError):
    pass


class HeadersTooLarge(MalformedResponse):
    pass


class SlowHead(MalformedResponse, TimeoutError):
    """The response head did not complete in time once it had begun (protocol.HEAD_SECONDS)."""


class SlowFraming(MalformedResponse, TimeoutError):
    """A chunk-size line or the chunked trailer did not complete in time once it had begun
    (protocol.HEAD_SECONDS, as for the head)."""


class ReadTimeout(UpstreamError, TimeoutError):
    """The upstream stayed silent longer than the read timeout while an answer was awaited."""
