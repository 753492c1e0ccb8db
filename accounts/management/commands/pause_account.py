"""The `pause_account` command: take an account out of rotation."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import lifecycle
from lib import escapes


class Command(BaseCommand):
    help = "Pause an account so no new requests are routed to it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Name of the account to pause.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = lifecycle.pause_account(name=options["name"])
        except lifecycle.AccountError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stdout.write(f"Account '{account.name}' paused")
