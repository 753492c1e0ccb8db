"""The proxy's in-process view of the accounts: a short-lived snapshot plus write-behind updates.

Picking an account must not cost a database round trip per request, so the proxy
reads a snapshot that is reloaded when older than ACCOUNT_CACHE_SECONDS (other
processes' changes arrive within that time). Changes the proxy makes (rate-limit
marks, window state, session starts) apply to the snapshot at once and reach the
database in the next flush, off the response path.
"""

import asyncio
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from accounts import health, signals
from accounts.models import Account
from lib import db_away
from lib.hot_settings import hot
from lib.reloading import FailureLog, Reloader

logger = logging.getLogger(__name__)

# One thread for this module's queries: loads and flushes never race each other.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="account-pool")


class AccountPool:
    def __init__(self) -> None:
        self._accounts: list[Account] = []
        self._pending: dict[uuid.UUID, dict[str, Any]] = {}
        # Per-model caps to merge into the stored ones: {account id: {family: entry}}.
        self._caps: dict[uuid.UUID, dict[str, dict[str, str]]] = {}
        # Sessions started here and not written yet: {account id: (start, replaced_before)}.
        self._sessions: dict[uuid.UUID, tuple[datetime, datetime]] = {}
        # When this process last noted a limit of each account (a LIMIT_FIELDS change or a
        # cap) that is not written yet: a clear saved since, elsewhere, wins over it.
        self._limits_noted: dict[uuid.UUID, datetime] = {}
        # Shared by concurrent requests; the last snapshot serves while the database is away.
        self._reloader = Reloader(
            self._do_reload,
            max_age=lambda: hot.ACCOUNT_CACHE_SECONDS,
            logger=logger,
            name="accounts.reload",
        )
        # Guards _pending between the event loop and the flushing thread.
        self._lock = threading.Lock()
        self._flush_failures = FailureLog(logger, "accounts.flush")

    async def accounts(self) -> list[Account]:
        """The current snapshot, reloaded first if it is stale (lib.reloading)."""
        await self._reloader.fresh()
        return self._accounts

    def current(self) -> list[Account]:
        """The snapshot as it is, without a reload: with what requests changed meanwhile."""
        return self._accounts

    @property
    def read(self) -> bool:
        """Whether the accounts were read yet: an empty snapshot before is no "no accounts"."""
        return self._reloader.loaded

    def update(self, account: Account, **fields: Any) -> None:
        """Change an account now in memory, and in the database at the next flush.

        Transitions worth telling someone about (needs re-auth, a window nearly full)
        are announced first, while the old values are still there to compare with.
        """
        signals.announce_changes(account, fields)
        for name, value in fields.items():
            setattr(account, name, value)
        noted = None if health.LIMIT_FIELDS.isdisjoint(fields) else datetime.now(UTC)
        with self._lock:
            self._pending.setdefault(account.pk, {}).update(fields)
            if noted is not None:
                self._limits_noted[account.pk] = noted

    def cap_family(self, account: Account, family: str, entry: dict[str, str]) -> None:
        """Bench one model family of the account now in memory, and in the database next flush.

        The flush merges the family into the caps stored by then rather than writing this
        process's copy over them: another worker may have capped another family meanwhile,
        or the admin lifted the caps this snapshot still holds.
        """
        now = datetime.now(UTC)
        account.model_limits = health.with_family_caps(account.model_limits, {family: entry}, now)
        with self._lock:
            self._caps.setdefault(account.pk, {})[family] = entry
            self._limits_noted[account.pk] = now

    def start_session(
        self, account: Account, start: datetime, *, replaced_before: datetime
    ) -> None:
        """Start the account's session at `start` (its first request's arrival), now in memory.

        `replaced_before`: the session it replaces started before then (it had expired).
        The flush counts the requests recorded since `start` (`_start_session`) instead
        of writing a 0: the recorder's counts for the session's first requests may land
        before the flush, and a 0 wiped them.
        """
        self.update(account, holds_session=True)
        account.session_start, account.session_request_count = start, 0
        with self._lock:
            self._sessions[account.pk] = (start, replaced_before)

    async def flush(self) -> None:
        if self._pending or self._caps or self._sessions:
            await asyncio.get_running_loop().run_in_executor(_executor, self._flush_sync)

    def flush_sync(self) -> None:
        """Write pending updates from a thread with no running event loop (shutdown)."""
        self._flush_sync()

    async def _do_reload(self) -> None:
        loop = asyncio.get_running_loop()
        accounts = await loop.run_in_executor(_executor, self._flush_and_load)
        with self._lock:
            for account in accounts:
                # Updates made while the load ran are not in it yet.
                for name, value in self._pending.get(account.pk, {}).items():
                    setattr(account, name, value)
                if caps := self._caps.get(account.pk):
                    now = datetime.now(UTC)
                    account.model_limits = health.with_family_caps(account.model_limits, caps, now)
                if session := self._sessions.get(account.pk):
                    account.session_start, account.session_request_count = session[0], 0
        self._accounts = accounts

    def _flush_and_load(self) -> list[Account]:
        # A connection a PostgreSQL restart closed is replaced first: the load failed on
        # it, and the requests until the next load were routed from the old snapshot.
        db_away.check_connection()
        self._flush_sync()
        try:
            return list(Account.objects.all())
        except Exception as error:
            # This thread keeps its connection between loads; drop a broken one.
            db_away.after_failure(error)
            raise

    def _flush_sync(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            caps, self._caps = self._caps, {}
            sessions, self._sessions = self._sessions, {}
            noted, self._limits_noted = self._limits_noted, {}
        if not pending and not caps and not sessions:
            return
        try:
            with transaction.atomic():
                for account_id, fields in pending.items():
                    _write(account_id, fields, noted.get(account_id))
                for account_id, added in caps.items():
                    _merge_caps(account_id, added, noted[account_id])
                for account_id, (start, replaced_before) in sessions.items():
                    _start_session(account_id, start, replaced_before)
            self._flush_failures.ok()
        except Exception as error:
            # Keep the updates for the next flush rather than lose them; newer
            # values that arrived meanwhile win.
            self._flush_failures.failed()
            db_away.after_failure(error, self._flush_failures.count)
            with self._lock:
                for account_id, fields in pending.items():
                    self._pending[account_id] = {**fields, **self._pending.get(account_id, {})}
                for account_id, added in caps.items():
                    self._caps[account_id] = {**added, **self._caps.get(account_id, {})}
                self._sessions = {**sessions, **self._sessions}
                self._limits_noted = {**noted, **self._limits_noted}

    def invalidate(self) -> None:
        """Make the next request reload (tests, and after local admin edits)."""
        self._reloader.invalidate()


def _write(account_id: uuid.UUID, fields: dict[str, Any], noted: datetime | None) -> None:
    """The account's pending changes; its limits only if no clear (the admin's, the API's,
    a command's, in any process) was saved since this process noted them: a 429 noted
    just before a clear benched the account again at the flush, in another worker too."""
    limits = {name: value for name, value in fields.items() if name in health.LIMIT_FIELDS}
    rest = {name: value for name, value in fields.items() if name not in health.LIMIT_FIELDS}
    if rest:
        Account.objects.filter(pk=account_id).update(**rest)
    if limits:
        assert noted is not None  # set with every pending limit (update)
        _not_cleared_since(noted).filter(pk=account_id).update(**limits)


def _not_cleared_since(noted: datetime) -> QuerySet[Account]:
    return Account.objects.exclude(limits_cleared_at__gt=noted)


def _merge_caps(account_id: uuid.UUID, added: dict[str, dict[str, str]], noted: datetime) -> None:
    """Add per-model caps to the stored ones, under the row's lock (SQLite's transactions
    here take the write lock at BEGIN), so two processes' caps both survive; none that
    were noted before a clear saved since (_write)."""
    stored = list(
        _not_cleared_since(noted)
        .select_for_update()
        .filter(pk=account_id)
        .values_list("model_limits", flat=True)
    )
    if not stored:
        return  # the account was deleted meanwhile, or cleared since
    caps = stored[0] if isinstance(stored[0], dict) else {}
    merged = health.with_family_caps(caps, added, datetime.now(UTC))
    Account.objects.filter(pk=account_id).update(model_limits=merged)


def _start_session(account_id: uuid.UUID, start: datetime, replaced_before: datetime) -> None:
    """Write a session start with the requests recorded since it, under the row's lock.

    The lock comes first, so the count sees every request whose counters the recorder
    bumped before it (rows and bump are one transaction) and none it bumps after. A
    stored start after `replaced_before` is not the expired session this one replaces:
    another worker started the same session meanwhile, and the earlier start stands.
    """
    locked = Account.objects.select_for_update().filter(pk=account_id)
    stored = locked.values_list("session_start", flat=True).first()
    if stored is not None and stored > replaced_before:
        start = min(start, stored)
    count = Account.objects.filter(pk=account_id, requests__timestamp__gte=start).count()
    Account.objects.filter(pk=account_id).update(session_start=start, session_request_count=count)


pool = AccountPool()
