"""Let go of each finished HTTP request at once instead of at daphne's next sweep.

Daphne keeps every request (its Twisted Request, headers, queue, task and whatever the
task's result holds) in `Server.connections` until `application_checker`, which runs
once a second, sees both the response finished and the application done. Under load
that is a second's worth of requests alive at once: at 2,000 req/s about 1,800 of
them, some 25 MB and 100,000 objects for the cyclic GC to walk again and again, and
the sweep itself walks them all (docs/performance.md). Here a request is reaped the
moment the second of those two things happens; the periodic sweep stays for what
this misses (an application that outlives its client, websockets).
"""

import asyncio
import logging
from typing import Any

logger = logging.getLogger("daphne.server")


def reap_finished_requests() -> None:
    try:
        from daphne.server import Server
    except ImportError:
        return
    if getattr(Server.create_application, "reaps", False):
        return
    create_application = Server.create_application
    protocol_disconnected = Server.protocol_disconnected

    def create_and_watch(self: Server, protocol: Any, scope: dict) -> Any:
        queue = create_application(self, protocol, scope)
        task = self.connections.get(protocol, {}).get("application_instance")
        if task is not None:
            watch(self, protocol, task)
        return queue

    def disconnected_and_reaped(self: Server, protocol: Any) -> None:
        if protocol in self.connections:
            protocol_disconnected(self, protocol)
            reap(self, protocol)

    create_and_watch.reaps = True  # type: ignore[attr-defined]
    Server.create_application = create_and_watch
    Server.protocol_disconnected = disconnected_and_reaped


def watch(server: Any, protocol: Any, task: asyncio.Future) -> None:
    """Reap `protocol` when its application's task is done (and again when it disconnects)."""
    task.add_done_callback(lambda _: reap(server, protocol))


def reap(server: Any, protocol: Any) -> None:
    """One protocol's turn of daphne's application_checker, when it has something to do."""
    details = server.connections.get(protocol)
    if details is None:
        return
    task = details.get("application_instance")
    if task is not None:
        if not task.done():
            return
        # Gone before the report: answering an exception finishes the request, which
        # comes back here through protocol_disconnected.
        del details["application_instance"]
        _report(server, protocol, task, disconnected=bool(details.get("disconnected")))
    if details.get("disconnected"):
        server.connections.pop(protocol, None)


def _report(server: Any, protocol: Any, task: asyncio.Future, *, disconnected: bool) -> None:
    """What the sweep does with a finished application's exception, word for word."""
    if task.cancelled():
        return
    exception = task.exception()
    if exception is None:
        return
    if isinstance(exception, KeyboardInterrupt):
        server.stop()
        return
    logger.error("Exception inside application: %s", exception, exc_info=exception)
    if not disconnected:
        protocol.handle_exception(exception)
