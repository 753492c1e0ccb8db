"""How many bytes of request bodies one server process holds at once (MAX_BODIES_MB).

Twisted reads a whole request body into memory before the application sees it, and the
proxy keeps it until the answer is relayed (a failover sends it again). Each body is
capped (MAX_BODY_MB), but their sum was not: twenty clients sending 30 MB each took the
process to 700 MB, and a hundred would take a small host's memory and the OOM killer
would end every stream the process served. A body that would pass the budget is refused
before it is read, with a 503 that the SDKs and Claude Code retry. Bodies up to SMALL
bytes are not counted: the hook that gives the bytes back costs a request a few µs.
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


# Set from the settings by tuning.install_guarded_channel(); MAX_BODIES_MB's default.
budget = BodyBudget(256 * 1024 * 1024)
