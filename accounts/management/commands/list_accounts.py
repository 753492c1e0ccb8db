"""The `list_accounts` command: accounts with their health and token state; never credentials."""

import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts import health as accounts_health
from accounts.models import Account

HEADERS = ("Name", "Kind", "Tier", "Priority", "Requests", "Status", "Token", "Session")
CREDENTIAL_FIELDS = ("api_key", "access_token", "refresh_token")


class Command(BaseCommand):
    help = (
        "List accounts with their tier, priority, usage, health (OK, paused, rate-limited, "
        "cooling down or needs re-auth, with the reason and minutes left), token state and "
        "current session."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # Credentials are never shown, so never load (and decrypt) them: a
        # changed ENCRYPTION_KEY must not stop you from seeing your accounts.
        accounts = Account.objects.defer(*CREDENTIAL_FIELDS)
        now = timezone.now()
        rows = [account_row(account, now=now) for account in accounts]
        if not rows:
            self.stdout.write("No accounts configured.")
            return
        self.stdout.write("\n".join(format_table([HEADERS, *rows])))


def account_row(account: Account, *, now: datetime) -> tuple[str, ...]:
    return (
        account.name,
        account.kind,
        str(account.tier),
        str(account.priority),
        f"{account.request_count}/{account.total_requests}",
        status_label(account, now=now),
        token_label(account, now=now),
        session_label(account, now=now),
    )


def status_label(account: Account, *, now: datetime) -> str:
    """'OK', 'Paused', 'Rate limited (Nm): which limit', 'Cooling down (Nm): why' or
    'Needs re-auth: why'.

    Minutes left are rounded up.
    """
    health = account.health(now)
    text = health.state.label
    if health.until is not None:
        text += f" ({_minutes_left(health.until, now=now)}m)"
    text = f"{text}: {health.reason}" if health.reason else text
    limits = accounts_health.active_family_limits(account, now)
    caps = ", ".join(f"{f} {_minutes_left(u, now=now)}m" for f, u in sorted(limits.items()))
    return f"{text} [limited: {caps}]" if caps else text


def token_label(account: Account, *, now: datetime) -> str:
    """'valid (Nm)' or 'valid (Nh)' left, 'expired', 'long-lived', or '-' for API keys."""
    status = account.token_status(now)
    if status != "valid" or account.expires_at is None:
        return status
    minutes = _minutes_left(account.expires_at, now=now)
    return f"valid ({minutes}m)" if minutes < 120 else f"valid ({minutes // 60}h)"


def _minutes_left(until: datetime, *, now: datetime) -> int:
    return math.ceil((until - now).total_seconds() / 60)


def session_label(account: Account, *, now: datetime) -> str:
    """'N reqs, Mm ago' while the sticky session is still open, else '-'."""
    if account.session_start is None or not account.holds_session:
        return "-"
    age = now - account.session_start
    if age >= timedelta(milliseconds=settings.SESSION_DURATION_MS):
        return "-"
    return f"{account.session_request_count} reqs, {int(age.total_seconds() // 60)}m ago"


def format_table(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns two spaces apart, with a dashed rule under the header."""
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    rule = "  ".join("-" * width for width in widths)
    return [lines[0], rule, *lines[1:]]
