"""The `rename_account` command: give an account a new name; its history stays with it."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import lifecycle
from lib import escapes


class Command(BaseCommand):
    help = "Rename an account. Its requests, counters and credentials are kept."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("old", help="Current name.")
        parser.add_argument("new", help="New name (letters, digits, spaces, -_@.+).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = lifecycle.get_account(name=options["old"])
            lifecycle.rename_account(account=account, new_name=options["new"])
        except lifecycle.AccountError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stdout.write(f"Account '{options['old']}' renamed to '{account.name}'")
