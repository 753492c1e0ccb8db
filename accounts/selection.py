"""Which account serves the next request: the session strategy (SPEC §3), pure.

No database here: `plan` takes the accounts and the time and returns the order to
try them in; the caller persists a new session start if the plan asks for one.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from accounts.models import Account


@dataclass(slots=True)
class Plan:
    # Usable accounts in the order to try them.
    candidates: list[Account] = field(default_factory=list)
    # Unusable accounts with the reason, for the routing trace.
    skipped: list[tuple[Account, str]] = field(default_factory=list)
    # Set when the first candidate must start a new sticky session now.
    start_session: Account | None = None


def routing_order(accounts: Sequence[Account]) -> list[Account]:
    """Lower priority number first, then the older account."""
    return sorted(accounts, key=lambda a: (a.priority, a.created_at))


def active_session(
    accounts: Sequence[Account], *, now: datetime, duration: timedelta
) -> Account | None:
    """The account with the most recent session start, if that session is still live."""
    started = [a for a in accounts if a.session_start is not None]
    if not started:
        return None
    latest = max(started, key=lambda a: a.session_start)
    return latest if now - latest.session_start < duration else None


def plan(accounts: Sequence[Account], *, now: datetime, duration: timedelta) -> Plan:
    """Order the accounts for one request.

    1. The live session's account goes first when it is usable.
    2. Otherwise the first usable account in routing order goes first, and starts
       a new session unless its own session is still live.
    3. The other usable accounts follow in routing order, as failover.
    """
    ordered = routing_order(accounts)
    result = Plan()
    for account in ordered:
        reason = skip_reason(account, now=now)
        if reason is None:
            result.candidates.append(account)
        else:
            result.skipped.append((account, reason))
    if not result.candidates:
        return result
    session = active_session(accounts, now=now, duration=duration)
    if session is not None and session in result.candidates:
        result.candidates.remove(session)
        result.candidates.insert(0, session)
        return result
    first = result.candidates[0]
    if first.session_start is None or now - first.session_start >= duration:
        result.start_session = first
    return result


def skip_reason(account: Account, *, now: datetime) -> str | None:
    """None for a usable account, else its health in words ('paused', 'rate-limited until …')."""
    health = account.health(now)
    return None if health.usable else health.describe()
