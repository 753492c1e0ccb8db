"""Socket events reach their handlers directly (ccflare_site.tuning.skip_reactor_log_context).

Through a real daphne, every test of the server's sockets runs this way.
"""

from twisted.internet import asyncioreactor
from twisted.python import context

from ccflare_site import tuning


class Connection:
    """A connection that must not be asked for the log prefix the legacy log would print."""

    def logPrefix(self) -> str:  # noqa: N802 (Twisted's name)
        raise AssertionError("asked for its log prefix")


def test_a_socket_handler_runs_directly_with_its_arguments_and_its_answer_comes_back() -> None:
    tuning.skip_reactor_log_context()
    seen = []

    def handler(selectable: object, read: bool) -> str:
        seen.append((selectable, read, context.get("system")))
        return "why"

    connection = Connection()
    assert asyncioreactor.callWithLogger(connection, handler, connection, True) == "why"
    assert seen == [(connection, True, None)]
