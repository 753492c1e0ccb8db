"""The `add_account` command: add an account, or new credentials to one, from a terminal."""

import getpass
import sys
from argparse import ArgumentParser
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from accounts import crypto, lifecycle, oauth, onboarding
from accounts.models import TIERS, Account
from lib import escapes

STDIN_MARKER = "-"


class Command(BaseCommand):
    help = (
        "Add an account to the pool. --mode max|console logs in to a Claude subscription or "
        "Console with OAuth: it prints a URL to open in any browser (on any machine) and reads "
        "the code shown after login from stdin, so it works over SSH. --oauth-token takes a "
        "long-lived token from `claude setup-token`; --api-key a Console API key. Pass "
        "'--api-key -' to read the key from stdin (piped, or typed without echo) so it stays "
        "out of your shell history; '--oauth-token -' does the same for a token. --mode and "
        "--oauth-token on an existing name replace its credentials (the way out of 'needs "
        "re-auth')."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Unique account name (letters, digits, spaces, -_@.+).")
        kind = parser.add_mutually_exclusive_group(required=True)
        kind.add_argument(
            "--mode",
            choices=sorted(onboarding.MODE_LABELS),
            help="OAuth login: 'max' for a Claude Pro/Max subscription, 'console' to create "
            "a Console API key.",
        )
        kind.add_argument(
            "--oauth-token",
            help="A long-lived token from `claude setup-token`, or '-' to read it from stdin.",
        )
        kind.add_argument(
            "--api-key",
            help="The API key (sk-ant-...), or '-' to read it from stdin.",
        )
        parser.add_argument(
            "--tier",
            type=int,
            metavar="{" + ",".join(map(str, TIERS)) + "}",
            help="Plan size: 1 (Pro), 5 (Max 5x) or 20 (Max 20x); shown, not used for routing "
            "(default 1, or unchanged when re-authenticating).",
        )
        parser.add_argument(
            "--priority",
            type=int,
            help="Routing priority; lower is preferred (default 0, or unchanged when "
            "re-authenticating).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            finished = self._add(options)
        except (lifecycle.AccountError, onboarding.OnboardingError, oauth.OAuthError) as error:
            raise CommandError(escapes.printable(str(error))) from None
        account = finished.account
        verb = "added" if finished.created else "re-authenticated"
        self.stdout.write(
            f"Account '{account.name}' {verb} ({_credential_label(account)}, "
            f"tier {account.tier}, priority {account.priority})"
        )

    def _add(self, options: dict[str, Any]) -> onboarding.Finished:
        if options["mode"]:
            return self._login(options)
        if options["oauth_token"]:
            return onboarding.add_setup_token(
                name=options["name"],
                token=_read_secret(options["oauth_token"], prompt="Token: "),
                tier=options["tier"],
                priority=options["priority"],
            )
        return onboarding.add_api_key(
            name=options["name"],
            api_key=_read_secret(options["api_key"], prompt="API key: "),
            tier=options["tier"],
            priority=options["priority"],
        )

    def _login(self, options: dict[str, Any]) -> onboarding.Finished:
        """The two OAuth steps, with the user (and any browser, anywhere) in between."""
        started = async_to_sync(onboarding.start)(
            name=options["name"],
            mode=options["mode"],
            tier=options["tier"],
            priority=options["priority"],
        )
        if started.reauth:
            name = options["name"]
            self.stdout.write(f"Account '{name}' exists: its credentials will be replaced.")
        self.stdout.write(
            "Open this URL in a browser (on this or any other machine) and log in:\n\n"
            f"  {started.auth_url}\n\n"
            "Then paste the code shown (it looks like abc…#xyz…) and press Enter."
        )
        self.stdout.write("Code: ", ending="")
        self.stdout.flush()
        pasted = sys.stdin.readline().strip()
        if not sys.stdin.isatty():
            self.stdout.write("")  # a piped code is not echoed: end the prompt's line
        if not pasted:
            raise CommandError("No code given; nothing changed")
        return async_to_sync(onboarding.finish)(session_id=started.session_id, pasted_code=pasted)


def _read_secret(value: str, *, prompt: str) -> str:
    """The secret itself, or, for '-', one line from stdin (without echo on a terminal)."""
    if value != STDIN_MARKER:
        return value
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline()


def _credential_label(account: Account) -> str:
    if account.kind == Account.Kind.OAUTH:
        expiry = account.expires_at.isoformat(timespec="minutes") if account.expires_at else "?"
        return f"Claude Pro/Max OAuth, token valid until {expiry}"
    if account.kind == Account.Kind.SETUP_TOKEN:
        return f"long-lived OAuth token {crypto.mask(account.access_token)}"
    if account.kind == Account.Kind.CONSOLE:
        return f"Console API key {crypto.mask(account.api_key)}"
    return f"API key {crypto.mask(account.api_key)}"
