"""`python -m ccflare_site.daphne_main ARGS`: daphne's own command line, on uvloop.

daphne creates its event loop when `daphne.server` is imported (before our ASGI app
loads), so the loop implementation has to be chosen here, before that import; the
ASGI app cannot switch it later. uvloop runs Twisted's asyncio reactor and the upstream
client's connections (lib/h1) with a C event loop: measured in docs/performance.md.
`EVENT_LOOP=asyncio` keeps the standard library's loop.
"""

import asyncio
import ctypes
import os
import signal
import sys

from ccflare_site import serve


def use_event_loop() -> str:
    """Install the event loop policy that EVENT_LOOP names; returns the one in use."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccflare_site.settings")
    from django.conf import settings

    if settings.EVENT_LOOP == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return settings.EVENT_LOOP


# glibc's mallopt() parameter for the number of malloc arenas (malloc.h).
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """At most MALLOC_ARENAS malloc arenas instead of glibc's eight per core.

    Each thread that allocates (the recorder, the account pool's, the default executor's)
    otherwise gets an arena of its own, and each keeps the memory it freed: 24 MB more
    resident at idle on the benchmark (docs/performance.md). A MALLOC_ARENA_MAX set in
    the environment wins; elsewhere than glibc this does nothing.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def skip_websocket_accelerator() -> None:
    """Leave autobahn's optional C helpers for WebSocket frames unloaded (AUTOBAHN_USE_NVX=0).

    They are compiled by cffi at import, which pulls in pycparser: 1.2 MB resident
    for the dashboard's one socket, whose frames from the browser are a few bytes
    of ping. AUTOBAHN_USE_NVX=1 in the environment turns them back on.
    """
    os.environ.setdefault("AUTOBAHN_USE_NVX", "0")


def hang_up_as_terminate() -> None:
    """Take SIGHUP as SIGTERM: stop accepting, drain the requests in flight, then exit.

    Closing the terminal that runs `make run` sends SIGHUP, which Twisted does not handle:
    its default ended the process at once, cutting every answer being streamed and
    losing the records not yet written. Passed on as SIGTERM, whose handler (Twisted's,
    installed once the server runs) starts the drain (ccflare_site/tuning.py). Under
    `nohup`, hang-ups stay ignored.
    """
    if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        return
    signal.signal(signal.SIGHUP, lambda _signum, _frame: os.kill(os.getpid(), signal.SIGTERM))


def refuse(refused: str | None) -> None:
    """Exit with serve.py's one line if there is a reason this server cannot serve."""
    if refused is not None:
        sys.exit(f"ccflare: {refused}")


def main() -> None:
    limit_malloc_arenas()
    skip_websocket_accelerator()
    # Started by hand (DESIGN §2), not by serve.py, which checked all this before it
    # started us: a bad setting was a traceback, and an unmigrated database a server
    # answering every request 503.
    checked = os.environ.get(serve.CHECKED) == "1"
    if not checked:
        refuse(serve.bad_setting())
    use_event_loop()  # before cannot_serve(): django.setup() imports daphne's server
    if not checked:
        refuse(serve.cannot_serve())
    hang_up_as_terminate()
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
