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


def main() -> None:
    limit_malloc_arenas()
    skip_websocket_accelerator()
    use_event_loop()
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
