"""Asking Anthropic's OAuth usage endpoint how full an account's windows are (docs/routing.md).

The rate-limit headers only tell the windows of an account that serves; an idle one
would show nothing until a request finds it full. So each Pro/Max OAuth account's usage
is checked every USAGE_POLL_SECONDS, and on demand (admin action, API, `check_usage`).

A check refreshes the token first when it is due (accounts.tokens), reads the endpoint,
and stores the 5-hour and 7-day windows, the per-model weekly ones and a reading for the
forecast (accounts.forecast). A failed check is logged and skipped and never changes the
account's health: the endpoint answering 401 proves nothing about inference. This process
out of descriptors (for the refresh or the check) ends the poll's pass instead: every
account would fail alike, so the one it reached is made due again, the rest stay due, and
the poller logs it (throttled) and tries on its next tick.

Several server processes sharing a database do not check one account twice: a process
first claims the check by moving `usage_poll_due_at` forward with one conditional
UPDATE, which only one of them wins.
"""

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts import forecast, oauth, tokens, usage_reply
from accounts.models import Account
from accounts.pool import pool
from lib import h1, reloading

logger = logging.getLogger(__name__)

# The endpoint answers in well under a second; a hung one only delays the next check.
TIMEOUT_SECONDS = 15.0
# How often the poller looks for due accounts at most: an account added meanwhile
# is checked within this time, not a whole USAGE_POLL_SECONDS later.
MAX_TICK_SECONDS = 30.0

_task: asyncio.Task | None = None


class UsageCheckError(Exception):
    """The usage could not be read this time; the message is user-facing."""


class OutOfResources(UsageCheckError):
    """This process could not open a connection (lib.h1.OutOfResources): no account's fault."""


def is_checkable(account: Account) -> bool:
    """Only Claude Pro/Max OAuth logins have a usage endpoint (not keys, not setup tokens)."""
    return account.kind == Account.Kind.OAUTH


async def check(account: Account) -> usage_reply.UsageReport:
    """Read the account's usage now and store it; returns what was read.

    Raises UsageCheckError when the token cannot be had, the endpoint fails or its
    reply holds no window; the account's stored windows and health stay as they were.
    """
    if not is_checkable(account):
        raise UsageCheckError("only Claude Pro/Max OAuth accounts have a usage endpoint")
    try:
        token = await tokens.ensure_fresh(account)
    except tokens.OutOfResources as error:
        raise OutOfResources(str(error)) from None
    except tokens.RefreshError as error:
        raise UsageCheckError(str(error)) from None
    report = usage_reply.parse(await _fetch(token, account_name=account.name))
    if report.empty:
        logger.warning("accounts.usage_unreadable account=%s", account.name)
        raise UsageCheckError("the usage endpoint's reply held no window")
    await _store(account, report)
    return report


async def check_due() -> int:
    """Check every OAuth account whose poll is due and that this process claims.

    Returns how many were checked (successfully or not). Never raises for one
    account's failure: it is logged and the next account is checked. Raises
    OutOfResources, the process's own shortage, with the account it reached due again.
    """
    now = timezone.now()
    due = Q(usage_poll_due_at__isnull=True) | Q(usage_poll_due_at__lte=now)
    healthy = Q(reauth_reason__isnull=True) | Q(reauth_reason="")
    candidates = Account.objects.filter(due, healthy, kind=Account.Kind.OAUTH)
    checked = 0
    for account in [account async for account in candidates]:
        if not await claim(account, now=now):
            continue
        checked += 1
        try:
            await check(account)
        except OutOfResources:
            # Its claim given back (no other process could take it since).
            await Account.objects.filter(pk=account.pk).aupdate(
                usage_poll_due_at=account.usage_poll_due_at
            )
            raise
        except UsageCheckError as error:
            logger.info("accounts.usage_check_failed account=%s reason=%s", account.name, error)
        except Exception:
            logger.exception("accounts.usage_check_crashed account=%s", account.name)
    return checked


async def claim(account: Account, *, now: datetime) -> bool:
    """Take this account's next poll, unless another process took it since it was due."""
    due = Q(usage_poll_due_at__isnull=True) | Q(usage_poll_due_at__lte=now)
    next_due = now + timedelta(seconds=settings.USAGE_POLL_SECONDS)
    return bool(
        await Account.objects.filter(due, pk=account.pk).aupdate(usage_poll_due_at=next_due)
    )


def ensure_polling() -> None:
    """Start this process's poller on the running event loop, once; cheap to call per request.

    Does nothing when USAGE_POLL_SECONDS is 0 or there is no running loop.
    """
    global _task
    if (_task is not None and not _task.done()) or settings.USAGE_POLL_SECONDS <= 0:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    _task = loop.create_task(_poll_forever())
    logger.info("accounts.usage_polling_started every=%ds", settings.USAGE_POLL_SECONDS)


async def _poll_forever() -> None:
    tick = min(float(settings.USAGE_POLL_SECONDS), MAX_TICK_SECONDS)
    await reloading.repeat_forever(check_due, every=tick, logger=logger, name="accounts.usage_poll")


async def _fetch(token: str, *, account_name: str) -> Any:
    """The endpoint's decoded JSON reply; raises UsageCheckError for anything but a 200."""
    headers = [
        ("Authorization", f"Bearer {token}"),
        ("anthropic-beta", oauth.BETA),
        ("Accept", "application/json"),
    ]
    try:
        response = await h1.fetch(
            "GET", settings.OAUTH_USAGE_URL, headers=headers, within=TIMEOUT_SECONDS
        )
    except h1.OutOfResources as exc:
        raise OutOfResources(f"the proxy is out of local resources ({exc})") from None
    except (h1.UpstreamError, TimeoutError) as exc:
        raise UsageCheckError(f"usage endpoint unreachable ({type(exc).__name__})") from None
    if response.status != 200:
        # Logged, not acted on: a 401 here does not mean inference would fail.
        logger.warning("accounts.usage_refused account=%s status=%d", account_name, response.status)
        raise UsageCheckError(f"usage endpoint answered HTTP {response.status}")
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to decode
        raise UsageCheckError("usage endpoint answered with something other than JSON") from None


async def _store(account: Account, report: usage_reply.UsageReport) -> None:
    """Save the windows the reply gave (others keep their last value) and a forecast reading."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "usage_checked_at": now,
        "model_windows": {family: w.as_json() for family, w in sorted(report.models.items())},
    }
    if report.five_hour is not None:
        fields["five_hour_utilization"] = report.five_hour.utilization
        fields["five_hour_reset"] = report.five_hour.resets_at
        reading = forecast.Sample(now, report.five_hour.utilization)
        fields["five_hour_samples"] = forecast.appended(account.five_hour_samples, reading)
    if report.seven_day is not None:
        fields["seven_day_utilization"] = report.seven_day.utilization
        fields["seven_day_reset"] = report.seven_day.resets_at
    for name, value in fields.items():
        setattr(account, name, value)
    # A save (not an UPDATE) so post_save tells the live dashboard.
    await account.asave(update_fields=list(fields))
    # This process's proxy picks the new windows up at once.
    pool.invalidate()
