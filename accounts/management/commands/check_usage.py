"""The `check_usage` command: read Claude Pro/Max accounts' windows from the usage endpoint now."""

from argparse import ArgumentParser
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts import forecast, lifecycle, usage_check
from accounts.models import Account
from accounts.usage_reply import UsageReport, Window
from lib import escapes


class Command(BaseCommand):
    help = (
        "Read the 5-hour, 7-day and per-model weekly windows of NAME, or of every Claude "
        "Pro/Max OAuth account, from Anthropic's usage endpoint (spends no inference), "
        "and store them. The server also does this every USAGE_POLL_SECONDS."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", nargs="?", help="Only this account.")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = self._accounts(options["name"])
        if not accounts:
            self.stdout.write("No Claude Pro/Max OAuth accounts to check.")
            return
        failed = sum(not self._check(account) for account in accounts)
        if failed:
            raise CommandError(f"{failed} of {len(accounts)} usage checks failed")

    def _accounts(self, name: str | None) -> list[Account]:
        if name is None:
            return list(Account.objects.filter(kind=Account.Kind.OAUTH))
        try:
            account = lifecycle.get_account(name=name)
        except lifecycle.AccountError as error:
            raise CommandError(escapes.printable(str(error))) from None
        if not usage_check.is_checkable(account):
            kind = account.get_kind_display()
            raise CommandError(
                escapes.printable(f"Account '{name}' has no usage endpoint ({kind})")
            )
        return [account]

    def _check(self, account: Account) -> bool:
        """Check one account and report it; returns whether it worked."""
        try:
            report = async_to_sync(usage_check.check)(account)
        except usage_check.UsageCheckError as error:
            self.stderr.write(escapes.printable(f"Account '{account.name}': {error}"))
            return False
        self.stdout.write(f"Account '{account.name}': {describe(report)}")
        full = forecast.account_full_at(account, now=timezone.now())
        if full is not None:
            self.stdout.write(f"  5-hour window full at {_time(full)} at the current pace")
        return True


def describe(report: UsageReport) -> str:
    """'5-hour 42% (resets 17:00), 7-day 10% (...), opus 88% (...)': the windows the reply gave."""
    named = [("5-hour", report.five_hour), ("7-day", report.seven_day)]
    named += sorted(report.models.items())
    return ", ".join(_window(label, window) for label, window in named if window is not None)


def _window(label: str, window: Window) -> str:
    text = f"{label} {window.utilization:.0%}"
    return f"{text} (resets {_time(window.resets_at)})" if window.resets_at else text


def _time(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
