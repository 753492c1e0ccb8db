"""OAuth access tokens kept fresh: refresh before expiry, on a 401, and never twice at once.

Anthropic rotates refresh tokens: each refresh kills the refresh token it used,
so two refreshes of one account racing each other leave the loser holding a dead
token, and the account stuck. Two locks prevent it:

- in this process, one asyncio.Lock per account: concurrent requests wait for
  the refresh in flight and then use its token;
- between processes sharing the database, a lease on the account row
  (`refresh_lease_until`), taken with one conditional UPDATE that only succeeds
  when the lease is free or expired (atomic on SQLite and PostgreSQL). The
  holder refreshes; a loser waits for the lease, then re-reads the row and uses
  the tokens the holder saved instead of refreshing again.

New tokens are written to the database before anyone uses them, then to the
in-memory account (the proxy's pool snapshot), so a crash can never lose a
rotated refresh token that was already spent.

A refresh that fails while the token in hand still works (the endpoint's 5xx, a timeout,
garbage) does not bench the account: it keeps serving with that token and tries again
after VALID_TOKEN_RETRY_SECONDS, and a slow one holds no request longer than
VALID_TOKEN_WAIT_SECONDS. Only a token that expired, or that the upstream refused with
a 401, makes a failed refresh cool the account down. This process out of descriptors or
socket memory (lib.h1.OutOfResources) is nobody's fault, expired token or not: the account
is left as it is, and OutOfResources tells the caller (the proxy answers a 503).

The database failing a refresh (read-only, locked, gone) must not stop the proxy:
a token that has not expired is used as it is, an expired one moves the request on
to another account, and no refresh tries the database again for
DATABASE_RETRY_SECONDS (a locked one makes each try wait its busy timeout). The
connection that failed is dropped when it cannot serve again (lib.db_away): one
SQLite opened read-only during an outage stayed so, and every refresh failed until
a restart.
"""

import asyncio
import logging
import time
import uuid
import weakref
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from accounts import health, oauth, signals
from accounts.models import Account
from accounts.pool import pool
from lib import db_away, h1

logger = logging.getLogger(__name__)

# Longer than one token request can take (oauth.TIMEOUT_SECONDS): a live holder
# never loses its lease, a crashed one blocks the others for this long at most.
LEASE = timedelta(seconds=oauth.TIMEOUT_SECONDS * 2)
POLL_SECONDS = 0.05
# When the token endpoint gives no expires_in, assume an hour rather than
# refreshing on every request.
DEFAULT_LIFETIME = timedelta(hours=1)
# Copied from the database row when another refresh already did the work.
_TOKEN_FIELDS = ("kind", "access_token", "refresh_token", "expires_at", "api_key")
_STATE_FIELDS = ("reauth_reason", "failure_streak", "cooldown_until", "cooldown_reason")
# After the database failed a refresh, refreshes leave it alone this long.
DATABASE_RETRY_SECONDS = 5

# A refresh of a token that still works makes a request wait this long at most from its
# start; after one failed, the next try comes this much later.
VALID_TOKEN_WAIT_SECONDS = 2.0
VALID_TOKEN_RETRY_SECONDS = 30.0

_Refresh = tuple["asyncio.Task[None]", float, Account]
_tasks: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[uuid.UUID, _Refresh]]" = (
    weakref.WeakKeyDictionary()
)
_locks: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[uuid.UUID, asyncio.Lock]]" = (
    weakref.WeakKeyDictionary()
)


class RefreshError(Exception):
    """No usable token for this account right now; the message is user-facing."""


class DatabaseAway(RefreshError):
    """The database failed the refresh; nothing about the account is known to be wrong."""


class NeedsReauth(RefreshError):
    """The refresh token was rejected: only new credentials bring the account back."""


class RefreshFailed(RefreshError):
    """The refresh did not happen (network, 5xx, timeout); the account is cooling down."""


class EndpointDown(RefreshFailed):
    """The token endpoint failed in a way every account meets alike (unreachable, hung, a
    5xx or 429), or the refresh did not finish in time: no other account should wait on it
    in the same request."""


class OutOfResources(RefreshFailed):
    """This process could not open a connection to the token endpoint: the account is left
    as it was (accounts.health), and `shortage` says what ran out."""

    def __init__(self, shortage: h1.OutOfResources) -> None:
        super().__init__(f"token refresh failed: the proxy is out of local resources ({shortage})")
        self.shortage = shortage


def needs_refresh(account: Account, now: datetime) -> bool:
    """True for a refreshable account whose token is missing, undated or within the margin."""
    if not account.can_refresh:
        return False
    if not account.access_token or account.expires_at is None:
        return True
    return account.expires_at - now <= timedelta(seconds=settings.TOKEN_REFRESH_MARGIN_SECONDS)


async def ensure_fresh(account: Account) -> str:
    """The access token to send now, refreshed first when it is close to expiry.

    No database access unless a refresh is due. While the token has not expired, a
    refresh that fails (the endpoint's 5xx, a timeout, the database away) leaves the
    account serving with it, and one that is slow makes no request wait more than
    VALID_TOKEN_WAIT_SECONDS from its start (it goes on meanwhile). An expired token
    waits for the refresh. Raises NeedsReauth or RefreshFailed: the caller should
    move on to another account, unless it is OutOfResources (this process is short).
    """
    if not needs_refresh(account, timezone.now()):
        return account.access_token or ""
    gone = expired(account)
    if not gone and _retries.paused(account.pk):
        return account.access_token or ""
    task, deadline = _expiring_refresh(account)
    try:
        if gone:
            await _wait_expired(task)
        elif (wait := deadline - time.monotonic()) > 0:
            await asyncio.wait_for(asyncio.shield(task), wait)
    except TimeoutError:
        pass  # the token still works; the refresh goes on
    except (RefreshFailed, DatabaseAway):
        if expired(account):
            raise
    return account.access_token or ""


async def refresh(
    account: Account, *, reason: str, force: bool = False, refused: str | None = None
) -> str:
    """Refresh now (after a 401, or asked by the admin or a command); returns the access token.

    Skipped when the token changed since `account` was read, or since `refused` (the
    token a 401 answered) was sent: another request or process refreshed it already,
    and that newer token is returned. Without `force`, an account whose refresh just
    failed elsewhere is not retried before its cooldown ends. Raises NeedsReauth or
    RefreshFailed.
    """
    seen = account.access_token if refused is None else refused
    async with _lock_for(account.pk):
        await _refresh_locked(account, reason=reason, seen=seen, force=force)
    return account.access_token or ""


async def _refresh_locked(account: Account, *, reason: str, seen: str | None, force: bool) -> None:
    """The refresh proper; the caller holds this process's lock for the account.

    1. Someone in this process already replaced the token: nothing to do.
    2. Take the row's lease (waiting while another process holds it).
    3. Re-read the row: if another process saved a newer token, adopt it.
    4. Otherwise call the token endpoint and save the outcome (tokens, needs
       re-auth, or a cooldown) to the database, then to `account`.

    Raises DatabaseAway when the database fails any of it.
    """
    if account.access_token != seen and not needs_refresh(account, timezone.now()):
        return
    _database.check()
    try:
        await sync_to_async(db_away.check_connection)()
        await _refresh_leased(account, reason=reason, seen=seen, force=force)
    except DatabaseError as error:
        raise await _database.failed(error) from None
    _database.ok()


async def _refresh_leased(account: Account, *, reason: str, seen: str | None, force: bool) -> None:
    lease = await _claim_lease(account.pk)
    try:
        row = await Account.objects.aget(pk=account.pk)
        if _adopt_if_done(account, row, seen=seen, force=force):
            return
        await _call_endpoint(account, row, reason=reason)
    finally:
        await Account.objects.filter(pk=account.pk, refresh_lease_until=lease).aupdate(
            refresh_lease_until=None
        )


def _adopt_if_done(account: Account, row: Account, *, seen: str | None, force: bool) -> bool:
    """Take over what another refresh left in the row; raise if it left the account broken."""
    now = timezone.now()
    if row.access_token != seen and not needs_refresh(row, now):
        _copy(row, account, _TOKEN_FIELDS + _STATE_FIELDS)
        return True
    if row.reauth_reason and not force:
        _copy(row, account, _TOKEN_FIELDS + _STATE_FIELDS)
        raise NeedsReauth(row.reauth_reason)
    if row.is_cooling_down(now) and not force:
        _copy(row, account, _STATE_FIELDS)
        raise RefreshFailed(row.cooldown_reason or "cooling down after a failed refresh")
    if not row.can_refresh:
        raise NeedsReauth("no refresh token: add the account again")
    return False


async def _call_endpoint(account: Account, row: Account, *, reason: str) -> None:
    try:
        grant = await oauth.refresh_grant(refresh_token=row.refresh_token or "")
    except oauth.OutOfResources as exc:
        # Nothing reached the endpoint: nobody's fault. Not logged here: a shortage fails
        # every refresh at once, and the proxy and the usage poller report it throttled.
        signals.announce_refresh("failed")
        raise OutOfResources(exc.shortage) from None
    except oauth.OAuthError as exc:
        if await _logged_in_meanwhile(account, used=row.refresh_token):
            return
        raise await _failed(account, row, exc, reason=reason) from None
    if await _logged_in_meanwhile(account, used=row.refresh_token):
        return
    await _save(
        account,
        access_token=grant.access_token,
        # Kept when the endpoint did not rotate it (docs/routing.md, token refresh).
        refresh_token=grant.refresh_token or row.refresh_token,
        expires_at=grant.expires_at or timezone.now() + DEFAULT_LIFETIME,
        **health.new_credentials(),
    )
    signals.announce_refresh("ok")
    logger.info(
        "accounts.token_refreshed account=%s reason=%s expires_at=%s",
        account.name,
        reason,
        account.expires_at.isoformat() if account.expires_at else None,
    )


async def _logged_in_meanwhile(account: Account, *, used: str | None) -> bool:
    """Whether the user logged in again while this refresh was in flight (a login takes
    no lease): then the row's new tokens are adopted and this refresh's outcome, about a
    refresh token the login replaced, is dropped. Saved, it put a fresh login in "needs
    re-auth", or replaced its tokens with the old chain's."""
    row = await Account.objects.aget(pk=account.pk)
    if row.refresh_token == used:
        return False
    _copy(row, account, _TOKEN_FIELDS + _STATE_FIELDS)
    logger.info("accounts.refresh_superseded account=%s", account.name)
    return True


async def _failed(
    account: Account, row: Account, error: oauth.OAuthError, *, reason: str
) -> RefreshError:
    """Save what a refresh that got no tokens means for the account; the error to raise."""
    if isinstance(error, oauth.GrantRejected):
        message = _clip(f"refresh token rejected: {error}; log in again")
        await _save(account, **health.credential_rejected(message))
        logger.warning("accounts.refresh_rejected account=%s reason=%s", account.name, reason)
        signals.announce_refresh("rejected")
        return NeedsReauth(message)
    message = _clip(f"token refresh failed: {error}")
    signals.announce_refresh("failed")
    kind = EndpointDown if isinstance(error, oauth.EndpointDown) else RefreshFailed
    if reason != "401" and not expired(row):
        # The token in hand still works: the account keeps serving with it.
        logger.warning(
            "accounts.refresh_failed_token_valid account=%s reason=%s", account.name, reason
        )
        return kind(message)
    failed = health.own_failure(row, message, now=timezone.now())
    await _save(account, **failed)
    logger.warning(
        "accounts.refresh_failed account=%s streak=%d", account.name, failed["failure_streak"]
    )
    return kind(message)


async def _claim_lease(account_id: uuid.UUID) -> datetime:
    """Take the row's refresh lease, waiting while another process holds it; returns its end.

    Raises RefreshFailed if the account disappears or the wait outlasts a lease.
    """
    deadline = time.monotonic() + LEASE.total_seconds() + 5
    while True:
        now = timezone.now()
        until = now + LEASE
        free = Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lte=now)
        if await Account.objects.filter(free, pk=account_id).aupdate(refresh_lease_until=until):
            return until
        if time.monotonic() > deadline or not await Account.objects.filter(pk=account_id).aexists():
            raise RefreshFailed("another token refresh did not finish in time")
        await asyncio.sleep(POLL_SECONDS)


async def _save(account: Account, **fields: Any) -> None:
    """Write to the database first, then to the in-memory account.

    If the database fails it, the pool keeps the outcome in memory and writes it once
    the database is back: a refresh token the endpoint rotated is spent, and the new
    one must not be lost with the write.
    """
    try:
        await Account.objects.filter(pk=account.pk).aupdate(**fields)
    except DatabaseError:
        pool.update(account, **fields)
        logger.error("accounts.refresh_outcome_held account=%s", account.name)
        raise
    signals.announce_changes(account, fields)
    for name, value in fields.items():
        setattr(account, name, value)
    # aupdate() sends no post_save: say so for the live dashboard.
    signals.announce_written([(account.pk, account.name)])


def expired(account: Account) -> bool:
    """Whether the account's access token has expired (a token of unknown expiry counts)."""
    return account.expires_at is None or account.expires_at <= timezone.now()


def refreshes_in_flight() -> list["asyncio.Task[None]"]:
    """This loop's refreshes still running, which requests no longer wait for: a shutdown
    waits for them (ccflare_site.tuning's drain). Cut after the endpoint rotated the
    refresh token and before the new one was saved, the account needs a new login."""
    tasks = _tasks.get(asyncio.get_running_loop(), {})
    return [task for task, _, _ in tasks.values() if not task.done()]


def _expiring_refresh(account: Account) -> tuple["asyncio.Task[None]", float]:
    """The refresh in flight for this account, or a new one; and its waiters' deadline.

    A task, not the caller's coroutine, so it goes on when its waiters stop waiting. It
    updates the copy of the row it began with. A copy whose token still works shares the
    task in flight and its deadline: the pool reads a new copy every second, and when
    each began a refresh of its own, a slow endpoint held every request 2 s and was asked
    again the moment one failed. An expired copy gets its own, which adopts the refreshed
    tokens from the database behind the per-account lock.
    """
    loop = asyncio.get_running_loop()
    tasks = _tasks.setdefault(loop, {})
    known = tasks.get(account.pk)
    if known is not None and not known[0].done() and (known[2] is account or not expired(account)):
        return known[0], known[1]
    task = loop.create_task(_refresh_expiring(account, seen=account.access_token))
    deadline = time.monotonic() + VALID_TOKEN_WAIT_SECONDS
    tasks[account.pk] = (task, deadline, account)
    task.add_done_callback(lambda _: _settled(tasks, task, account.pk))
    return task, deadline


async def _wait_expired(task: "asyncio.Task[None]") -> None:
    """Wait for the refresh an expired token needs, as long as a lease at most.

    A database that hangs (the lease's queries) must not hold the request for ever:
    it moves on to another account.
    """
    try:
        await asyncio.wait_for(asyncio.shield(task), LEASE.total_seconds())
    except TimeoutError:
        raise EndpointDown("the token refresh did not finish in time") from None


async def _refresh_expiring(account: Account, *, seen: str | None) -> None:
    try:
        async with _lock_for(account.pk):
            # Whoever held the lock before us may have refreshed this very object, or
            # failed to while its token still works: then not again before the pause ends.
            if needs_refresh(account, timezone.now()) and (
                expired(account) or not _retries.paused(account.pk)
            ):
                await _refresh_locked(account, reason="expiring", seen=seen, force=False)
    except (RefreshFailed, DatabaseAway):
        if not expired(account):
            # Set here, not by a waiter: those of a slow refresh have all gone on.
            _retries.pause(account.pk)
        raise


def _settled(tasks: dict[uuid.UUID, _Refresh], task: "asyncio.Task[None]", key: uuid.UUID) -> None:
    if key in tasks and tasks[key][0] is task:
        del tasks[key]
    # Its waiters may have gone on; its failure is logged and saved where it happened.
    if not task.cancelled():
        task.exception()


class _RetryPause:
    """After a refresh failed while the token still works: when to try again."""

    def __init__(self) -> None:
        self._until: dict[uuid.UUID, float] = {}

    def paused(self, account_id: uuid.UUID) -> bool:
        return time.monotonic() < self._until.get(account_id, 0.0)

    def pause(self, account_id: uuid.UUID) -> None:
        self._until[account_id] = time.monotonic() + VALID_TOKEN_RETRY_SECONDS


_retries = _RetryPause()


class _DatabaseState:
    """How the database has been doing for refreshes in this process."""

    def __init__(self) -> None:
        self.failures = 0  # in a row
        self.retry_at: datetime | None = None

    def check(self) -> None:
        """Raise DatabaseAway while refreshes leave a failing database alone."""
        if self.retry_at is not None and timezone.now() < self.retry_at:
            raise DatabaseAway("the database is unavailable; token refresh paused")

    def ok(self) -> None:
        if self.failures:
            logger.info("accounts.refresh_database_back failures=%d", self.failures)
        self.failures, self.retry_at = 0, None

    async def failed(self, error: DatabaseError) -> DatabaseAway:
        self.failures += 1
        self.retry_at = timezone.now() + timedelta(seconds=DATABASE_RETRY_SECONDS)
        # In the thread the async ORM calls run in, whose connection failed.
        await sync_to_async(db_away.after_failure)(error, self.failures)
        if self.failures == 1 or self.failures % 100 == 0:
            logger.warning(
                "accounts.refresh_database_failed failures=%d error=%s", self.failures, error
            )
        return DatabaseAway(f"the database is unavailable: {_clip(str(error))}")


_database = _DatabaseState()


def _copy(source: Account, target: Account, names: tuple[str, ...]) -> None:
    for name in names:
        setattr(target, name, getattr(source, name))


def _lock_for(account_id: uuid.UUID) -> asyncio.Lock:
    # Keyed by event loop too: a Lock belongs to one loop, and commands and
    # tests run several loops in one process.
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(account_id, asyncio.Lock())


def _clip(text: str) -> str:
    return text if len(text) <= 200 else text[:199] + "…"
