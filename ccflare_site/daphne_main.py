"""`python -m ccflare_site.daphne_main ARGS`: daphne's own command line, on uvloop.

daphne creates its event loop when `daphne.server` is imported (before our ASGI app
loads), so the loop implementation has to be chosen here, before that import; the
ASGI app cannot switch it later. uvloop runs Twisted's asyncio reactor and aiohttp's
upstream connections with a C event loop: measured in docs/performance.md.
`EVENT_LOOP=asyncio` keeps the standard library's loop.
"""

import asyncio
import os


def use_event_loop() -> str:
    """Install the event loop policy that EVENT_LOOP names; returns the one in use."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccflare_site.settings")
    from django.conf import settings

    if settings.EVENT_LOOP == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return settings.EVENT_LOOP


def main() -> None:
    use_event_loop()
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
