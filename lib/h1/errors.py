"""What the upstream client raises: one base class, names that read well in a routing trace."""


class UpstreamError(Exception):
    """Any failure to get a complete answer from the upstream (network, framing, timeout)."""


class ConnectFailed(UpstreamError):
    """The TCP (or TLS) connection could not be opened."""


class ConnectionRefused(ConnectFailed):
    pass


class ConnectTimeout(ConnectFailed, TimeoutError):
    pass


class ConnectionLost(UpstreamError):
    """The connection closed or reset before the response (or its body) was complete."""


class MalformedResponse(UpstreamError):
    pass


class HeadersTooLarge(MalformedResponse):
    pass


class SlowHead(MalformedResponse, TimeoutError):
    """The response head did not complete in time once it had begun (protocol.HEAD_SECONDS)."""


class ReadTimeout(UpstreamError, TimeoutError):
    """The upstream stayed silent longer than the read timeout while an answer was awaited."""
