"""The `set_priority` command: change which account a new session prefers."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import lifecycle
from lib import escapes


class Command(BaseCommand):
    help = (
        "Set an account's priority. A new session starts on the usable account with the lowest "
        "number (then the oldest); failover follows the same order."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Name of the account.")
        parser.add_argument("priority", type=int, help="Lower is preferred; may be negative.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = lifecycle.get_account(name=options["name"])
            lifecycle.set_priority(account=account, priority=options["priority"])
        except lifecycle.AccountError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stdout.write(f"Account '{account.name}' now has priority {account.priority}")
