"""One run at a time of a coroutine that many callers need, e.g. reloading a cache."""

import asyncio
from collections.abc import Awaitable, Callable


class SharedRun:
    """Concurrent callers of `run` share one in-flight run instead of starting their own.

    The run is shielded: a caller cancelled while waiting (its client left) does not
    cancel the reload the other callers are waiting for.
    """

    def __init__(self, factory: Callable[[], Awaitable[None]]) -> None:
        self._factory = factory
        self._running: asyncio.Future[None] | None = None

    async def run(self) -> None:
        # A run that ended after its last waiter stopped waiting is not joined: a new one starts.
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._factory())
        future = self._running
        try:
            await asyncio.shield(future)
        finally:
            if future.done() and self._running is future:
                self._running = None
