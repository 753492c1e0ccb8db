"""How many bytes of request bodies one server process holds at once (MAX_BODIES_MB).

Twisted reads a whole request body into memory before the application sees it, and the
proxy keeps it until the answer is relayed (a failover sends it again). Each body is
capped (MAX_BODY_MB), but their sum was not: twenty clients sending 30 MB each took the
process to 700 MB, and a hundred would take a small host's memory and the OOM killer
would end every stream the process served. A body's bytes are counted as they arrive
(a Hold), and the request whose bytes would pass the budget is refused with a 503 that
the SDKs and Claude Code retry. Counted as they arrive, not as declared: reserving each
declared size (or MAX_BODY_MB for a chunked body) before a byte came let eight clients
that sent a head and nothing more refuse every other large body. Bodies declared up to
SMALL bytes are not counted: the hook that gives the bytes back costs a request a few µs.
"""

SMALL = 1024 * 1024


class BodyBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def reserve(self, size: int) -> bool:
        """Take `size` bytes of the budget, or False when they do not fit."""
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def release(self, size: int) -> None:
        self.held -= size


class Hold:
    """One request body's bytes, counted against `budget` as they arrive, up to `cap`.

    Past `cap` a body's bytes are dropped, not kept (web_request.RequestBody), so they
    are not counted either: an endless upload gets its 413, not the budget's 503.
    """

    __slots__ = ("_budget", "_cap", "size")

    def __init__(self, budget: BodyBudget, *, cap: int) -> None:
        self._budget = budget
        self._cap = cap
        self.size = 0

    def add(self, count: int) -> bool:
        """Count `count` more bytes; False, counting none, when they would pass the budget."""
        count = min(count, self._cap - self.size)
        if count <= 0:
            return True
        if not self._budget.reserve(count):
            return False
        self.size += count
        return True

    def release(self) -> None:
        """Give every byte counted back (the request ended); idempotent."""
        self._budget.release(self.size)
        self.size = 0


# Set from the settings by tuning.install_guarded_channel(); MAX_BODIES_MB's default.
budget = BodyBudget(256 * 1024 * 1024)
