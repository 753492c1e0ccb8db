"""The `create_client_key` command: a key clients must send to /v1/, printed once."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from access import credentials
from lib import escapes


class Command(BaseCommand):
    help = (
        "Create a client key for the proxy; the key is printed once. While any client key "
        "exists, /v1/ requests must carry one (x-api-key or Authorization: Bearer)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Who or what uses the key, e.g. 'laptop' or 'alice'.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            _, secret = credentials.create_client_key(name=options["name"])
        except credentials.AccessError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stderr.write("Copy it now: only its hash is kept. Use it as the client's API key.")
        self.stdout.write(secret)
