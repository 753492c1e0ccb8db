"""What of a request and response is kept for the payload view: redacted headers, capped bodies."""

REDACTED = "[REDACTED]"
# Credentials never reach the payload capture, whoever sent them.
SECRET_HEADERS = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"}
)
_NOT_STORED = frozenset(
    {"accept-encoding", "content-encoding", "content-length", "transfer-encoding"}
)


def redact_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if name in _NOT_STORED:
            continue
        out[name] = REDACTED if name in SECRET_HEADERS else raw_value.decode("latin-1")
    return out


class BodyCapture:
    """Collects body chunks up to a cap; remembers whether anything was cut."""

    __slots__ = ("_chunks", "_size", "limit", "truncated")

    def __init__(self, limit: int) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self.limit = limit
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - self._size
        if room <= 0:
            self.truncated = self.truncated or bool(chunk)
            return
        if len(chunk) > room:
            chunk = chunk[:room]
            self.truncated = True
        self._chunks.append(chunk)
        self._size += len(chunk)

    def value(self) -> bytes:
        return b"".join(self._chunks)
