"""The accounts' work in the background: usage polling (accounts.usage_check) and asking
again about rejected credentials (accounts.recheck)."""

import sys

from accounts import recheck, usage_check


def ensure_started() -> None:
    """Start both on the running event loop, once each; cheap to call per request."""
    usage_check.ensure_polling()
    recheck.ensure_running()


def start_with_server() -> None:
    """Under daphne, start them as soon as the server runs, before any request arrives.

    Daphne honours no ASGI start-up hook, but it installs Twisted's asyncio reactor
    before it loads the app: a call scheduled on it runs inside the server's event
    loop once that starts. Elsewhere (other servers, tests) the first proxied request
    starts them (proxy.background).
    """
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is not None and hasattr(reactor, "_asyncioEventloop"):
        reactor.callLater(0, ensure_started)
