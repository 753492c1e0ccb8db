"""The `set_tier` command: record an account's plan size (1, 5 or 20)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import lifecycle
from accounts.models import TIERS
from lib import escapes


class Command(BaseCommand):
    help = "Set an account's tier: 1 (Pro), 5 (Max 5x) or 20 (Max 20x). Shown, not used to route."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Name of the account.")
        parser.add_argument("tier", type=int, metavar="{" + ",".join(map(str, TIERS)) + "}")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = lifecycle.get_account(name=options["name"])
            lifecycle.set_tier(account=account, tier=options["tier"])
        except lifecycle.AccountError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stdout.write(f"Account '{account.name}' is now tier {account.tier}")
