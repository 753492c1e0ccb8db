"""The `revoke_client_key` command: stop a client key from reaching the proxy."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from access import credentials


class Command(BaseCommand):
    help = "Revoke the active client key with this name (takes effect within seconds)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            credentials.revoke_client_key(name=options["name"])
        except credentials.AccessError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Client key '{options['name']}' revoked")
