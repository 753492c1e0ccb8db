"""The `add_account` command: add an account to the pool from the terminal."""

import getpass
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import crypto, services
from accounts.models import TIERS, Account

STDIN_MARKER = "-"


class Command(BaseCommand):
    help = (
        "Add an Anthropic API-key account to the pool. Pass '--api-key -' to read the key "
        "from stdin (piped, or typed without echo) so it stays out of your shell history."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Unique account name (letters, digits, spaces, -_@.+).")
        parser.add_argument(
            "--api-key",
            required=True,
            help="The API key (sk-ant-...), or '-' to read it from stdin.",
        )
        parser.add_argument(
            "--tier",
            type=int,
            default=1,
            metavar="{" + ",".join(map(str, TIERS)) + "}",
            help="Subscription tier, used to weigh accounts (default 1).",
        )
        parser.add_argument(
            "--priority",
            type=int,
            default=0,
            help="Routing priority; lower is preferred (default 0).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = self._create(options)
        except services.AccountError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Account '{account.name}' added ({_credential_label(account)}, "
            f"tier {account.tier}, priority {account.priority})"
        )

    def _create(self, options: dict[str, Any]) -> Account:
        # One branch per account kind; OAuth modes (--mode max|console) slot in here.
        return services.create_api_key_account(
            name=options["name"],
            api_key=_read_secret(options["api_key"], prompt="API key: "),
            tier=options["tier"],
            priority=options["priority"],
        )


def _read_secret(value: str, *, prompt: str) -> str:
    """The secret itself, or, for '-', one line from stdin (without echo on a terminal)."""
    if value != STDIN_MARKER:
        return value
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline()


def _credential_label(account: Account) -> str:
    return f"API key {crypto.mask(account.api_key)}"
