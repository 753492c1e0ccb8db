"""The `remove_account` command: delete an account, after typing its name to confirm."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import lifecycle
from lib import escapes


class Command(BaseCommand):
    help = "Remove an account. Asks you to type its name unless --force is given."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Name of the account to remove.")
        parser.add_argument(
            "--force", action="store_true", help="Remove without asking for confirmation."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        try:
            # Look the account up first so a typo fails before the prompt.
            lifecycle.check_exists(name=name)
            if not options["force"]:
                _confirm(name)
            lifecycle.remove_account(name=name)
        except lifecycle.AccountError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stdout.write(f"Account '{name}' removed")


def _confirm(name: str) -> None:
    try:
        answer = input(f"Type the account name '{name}' to confirm removal: ")
    except EOFError:
        # No terminal (e.g. a script): "no", and how a script says yes.
        raise CommandError(
            "No confirmation given; nothing removed (--force removes without asking)"
        ) from None
    if answer.strip() != name.strip():
        raise CommandError("Confirmation did not match; nothing removed")
