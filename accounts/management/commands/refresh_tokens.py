"""The `refresh_tokens` command: refresh OAuth access tokens now, one account or all."""

from argparse import ArgumentParser
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from accounts import lifecycle, tokens
from accounts.models import Account
from lib import escapes


class Command(BaseCommand):
    help = (
        "Refresh the OAuth access token of NAME, or of every Claude Pro/Max OAuth account. "
        "Safe while the server runs: refreshes are never run twice at once, even across "
        "processes. Tokens are also refreshed automatically before they expire."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", nargs="?", help="Only this account.")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = self._accounts(options["name"])
        if not accounts:
            self.stdout.write("No OAuth accounts to refresh.")
            return
        failed = sum(not self._refresh(account) for account in accounts)
        if failed:
            raise CommandError(f"{failed} of {len(accounts)} refreshes failed")

    def _accounts(self, name: str | None) -> list[Account]:
        if name is None:
            return [a for a in Account.objects.filter(kind=Account.Kind.OAUTH) if a.can_refresh]
        try:
            account = lifecycle.get_account(name=name)
        except lifecycle.AccountError as error:
            raise CommandError(escapes.printable(str(error))) from None
        if not account.can_refresh:
            kind = account.get_kind_display()
            raise CommandError(escapes.printable(f"Account '{name}' has no refresh token ({kind})"))
        return [account]

    def _refresh(self, account: Account) -> bool:
        """Refresh one account and report it; returns whether it worked."""
        try:
            # Forced: the operator asked, even if a refresh failed a moment ago.
            async_to_sync(tokens.refresh)(account, reason="command", force=True)
        except tokens.RefreshError as error:
            self.stderr.write(escapes.printable(f"Account '{account.name}': {error}"))
            return False
        expiry = account.expires_at.isoformat(timespec="seconds") if account.expires_at else "?"
        self.stdout.write(f"Account '{account.name}': token refreshed, valid until {expiry}")
        return True
