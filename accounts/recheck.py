"""Asking again about credentials the upstream rejected, so that no account is stuck for good.

A 401 on inference marks an API key, a Console key or a long-lived token "needs re-auth"
(proxy.attempts): nothing can refresh it. That is usually the end of the key, but not
always: an incident at Anthropic's end, or something in front of the API answering in JSON,
has refused keys that were fine, and then every account of the pool went to "needs
re-auth" on one request and stayed there after the incident ended.

So each such account is asked again with a call that proves the credential and costs
nothing, `GET /v1/models`: CREDENTIAL_RECHECK_SECONDS after this process first sees it
rejected, then twice as long after each new 401, at most MAX_DELAY_SECONDS. A 200 brings the
account back (its reason cleared, only if it is still the same rejection); any other answer,
or none, keeps it as it is and asks again after the same delay. The schedule is this
process's own: with several workers each asks, a request every few minutes at most.
"""

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings

from accounts import health, oauth
from accounts.models import Account
from accounts.pool import pool
from lib import h1, reloading

logger = logging.getLogger(__name__)

# A key that stays refused is asked about once an hour.
MAX_DELAY_SECONDS = 3600.0
# How often the loop looks for accounts due at most.
MAX_TICK_SECONDS = 30.0
TIMEOUT_SECONDS = 15.0

_task: asyncio.Task | None = None


@dataclass(slots=True)
class _Due:
    at: float  # monotonic seconds
    delay: float


# account id -> when it is asked next, and the delay that led there.
_schedule: dict[uuid.UUID, _Due] = {}


async def check_due(now: float | None = None) -> int:
    """Ask about every rejected credential whose turn has come; returns how many were asked."""
    now = time.monotonic() if now is None else now
    first = float(settings.CREDENTIAL_RECHECK_SECONDS)
    rows = Account.objects.filter(reauth_reason=health.REJECTED_BY_UPSTREAM)
    rejected = [account async for account in rows if not account.can_refresh]
    for gone in _schedule.keys() - {account.pk for account in rejected}:
        del _schedule[gone]  # re-authenticated, or deleted
    asked = 0
    for account in rejected:
        due = _schedule.setdefault(account.pk, _Due(at=now + first, delay=first))
        if due.at > now:
            continue
        asked += 1
        status = await _ask(account)
        if status == 200:
            del _schedule[account.pk]
            await _accepted(account)
            continue
        if status == 401:
            due.delay = min(due.delay * 2, MAX_DELAY_SECONDS)
        due.at = now + due.delay
    return asked


async def _ask(account: Account) -> int | None:
    """The status of `GET /v1/models` with the account's credential; None without an answer."""
    url = f"{settings.UPSTREAM_BASE_URL.rstrip('/')}/v1/models"
    try:
        reply = await h1.fetch("GET", url, headers=_headers(account), within=TIMEOUT_SECONDS)
    except (h1.UpstreamError, TimeoutError, ValueError) as exc:
        logger.info("accounts.recheck_failed account=%s error=%s", account.name, type(exc).__name__)
        return None
    if reply.status != 200:
        logger.info("accounts.recheck_refused account=%s status=%d", account.name, reply.status)
    return reply.status


def _headers(account: Account) -> list[tuple[str, str]]:
    """The credential as the proxy sends it (proxy.upstream.build_headers), and the version."""
    version = ("anthropic-version", "2023-06-01")
    if account.uses_bearer:
        bearer = ("authorization", f"Bearer {account.access_token}")
        return [bearer, ("anthropic-beta", oauth.BETA), version]
    return [("x-api-key", account.api_key or ""), version]


async def _accepted(account: Account) -> None:
    """The upstream takes the credential again: out of "needs re-auth", unless it changed since."""
    brought_back = await Account.objects.filter(
        pk=account.pk, reauth_reason=health.REJECTED_BY_UPSTREAM
    ).aupdate(**health.new_credentials())
    if brought_back:
        pool.invalidate()
        logger.warning("accounts.credential_accepted_again account=%s", account.name)


def ensure_running() -> None:
    """Start this process's loop on the running event loop, once; cheap to call per request."""
    global _task
    if (_task is not None and not _task.done()) or settings.CREDENTIAL_RECHECK_SECONDS <= 0:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    _task = loop.create_task(_recheck_forever())


async def _recheck_forever() -> None:
    tick = min(float(settings.CREDENTIAL_RECHECK_SECONDS), MAX_TICK_SECONDS)
    await reloading.repeat_forever(check_due, every=tick, logger=logger, name="accounts.recheck")
