"""The `resume_account` command: put a paused account back in rotation."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import lifecycle
from lib import escapes


class Command(BaseCommand):
    help = "Resume a paused account so requests can be routed to it again."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Name of the account to resume.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = lifecycle.resume_account(name=options["name"])
        except lifecycle.AccountError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stdout.write(f"Account '{account.name}' resumed")
