"""The `tui` command: open the terminal UI against a running ccflare server (tui/)."""

import os
import sys
from argparse import ArgumentParser
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lib import escapes
from tui.app import CcflareApp
from tui.client import ApiClient
from tui.local_token import LocalTokenError, local_token

TOKEN_VARIABLE = "CCFLARE_API_TOKEN"


class Command(BaseCommand):
    help = (
        "Watch and steer a ccflare server from the terminal. By default the local one "
        "(HOST:PORT); --url for another. Token: --token, else $CCFLARE_API_TOKEN, else (local "
        "server only) a token tui@<hostname> made once and kept in DATA_DIR/tui-token."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--url", help="The server, e.g. http://10.0.0.5:8080")
        parser.add_argument("--token", help=f"An API token (cct_...); default ${TOKEN_VARIABLE}")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            # Else it drew its screens into a pipe or a file until killed.
            raise CommandError("The TUI needs a terminal: run it in one, not through a pipe")
        url = options["url"] or local_url()
        if not _is_server_url(url):
            # Else it said "reconnecting" for ever, or ended in a traceback.
            raise CommandError(f"--url must be an http:// or https:// URL, got {url!r}")
        token = options["token"] or os.environ.get(TOKEN_VARIABLE, "").strip() or None
        if token is None and not options["url"]:
            try:
                token = local_token()
            except LocalTokenError as error:
                raise CommandError(escapes.printable(str(error))) from None
        CcflareApp(ApiClient(url, token)).run()


def _is_server_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is no number)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def local_url() -> str:
    # A server listening on every interface is reached on the loopback one.
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(
        settings.HOST, settings.HOST
    )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.PORT}"
