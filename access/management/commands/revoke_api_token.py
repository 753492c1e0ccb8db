"""The `revoke_api_token` command: stop an API token from working."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from access import credentials
from lib import escapes


class Command(BaseCommand):
    help = "Revoke the active API token with this name."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            credentials.revoke_api_token(name=options["name"])
        except credentials.AccessError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stdout.write(f"API token '{options['name']}' revoked")
