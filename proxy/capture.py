"""Capped capture of body bytes for the payload view (headers are redacted by the recorder)."""


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
