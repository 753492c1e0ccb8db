"""The `create_api_token` command: a bearer token for the HTTP API, printed once."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from access import credentials
from lib import escapes


class Command(BaseCommand):
    help = "Create an API token for /api/ and /metrics; the token is printed once."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="What the token is for, e.g. 'status-line'.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            _, secret = credentials.create_api_token(name=options["name"])
        except credentials.AccessError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stderr.write("Copy it now: only its hash is kept.")
        self.stdout.write(secret)
