"""Which account serves the next request: the session strategy, pure.

No database here: `plan` takes the accounts and the time and returns the order to try
them in; `takes_session` says whether the account that served must now hold the sticky
session. The caller persists what changes.

The session holder is explicit (`Account.holds_session`), unlike the original ccflare,
which inferred it from the latest session start: after a failover the serving account
keeps the conversation until its session ends or it becomes unusable, so a recovered
account never takes traffic back (each move would lose the prompt cache).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from accounts import health
from accounts.models import Account


@dataclass(slots=True)
class Plan:
    # Accounts that can serve this request, in the order to try them.
    candidates: list[Account] = field(default_factory=list)
    # Accounts that cannot, with the reason, for the routing trace.
    skipped: list[tuple[Account, str]] = field(default_factory=list)
    # The live session's account, whether or not it can serve this request.
    holder: Account | None = None


def routing_order(accounts: Sequence[Account]) -> list[Account]:
    """Lower priority number first, then the older account."""
    return sorted(accounts, key=lambda a: (a.priority, a.created_at))


def session_holder(
    accounts: Sequence[Account], *, now: datetime, duration: timedelta
) -> Account | None:
    """The account holding the sticky session, if that session is still live."""
    for account in accounts:
        if account.holds_session and session_live(account, now=now, duration=duration):
            return account
    return None


def session_live(account: Account, *, now: datetime, duration: timedelta) -> bool:
    return account.session_start is not None and now - account.session_start < duration


def plan(
    accounts: Sequence[Account],
    *,
    now: datetime,
    duration: timedelta,
    family: str | None = None,
) -> Plan:
    """Order the accounts for one request of model `family` (None: unknown).

    1. Accounts that are unusable, or whose per-model cap holds `family`, are skipped.
    2. The session holder goes first when it can serve the request.
    3. The others follow in routing order (priority, then age), as failover.
    """
    result = Plan(holder=session_holder(accounts, now=now, duration=duration))
    for account in routing_order(accounts):
        reason = skip_reason(account, now=now, family=family)
        if reason is None:
            result.candidates.append(account)
        else:
            result.skipped.append((account, reason))
    if result.holder is not None and result.holder in result.candidates:
        result.candidates.remove(result.holder)
        result.candidates.insert(0, result.holder)
    return result


def takes_session(served: Account, holder: Account | None, *, now: datetime) -> bool:
    """Whether the account that served must hold the session from now on.

    Yes when there is no live session, or its holder can serve nothing now. No when
    the holder only sits out this request's model family (a per-model weekly cap):
    its other conversations stay where their prompt cache is.
    """
    if holder is None:
        return True
    if holder is served:
        return False
    return not holder.health(now).usable


def skip_reason(account: Account, *, now: datetime, family: str | None = None) -> str | None:
    """None when the account can serve, else why not ('paused', 'opus limit until …')."""
    state = account.health(now)
    if not state.usable:
        return state.describe()
    until = health.family_blocked_until(account, family, now)
    if until is not None:
        claim = account.model_limits[family]["claim"]
        return f"{family} limit ({claim}) until {until.isoformat()}"
    return None
