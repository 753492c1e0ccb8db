"""Getting one upstream response for a request: account order, failover, the session, the trace.

Everything here happens before any body byte reaches the client, so moving to another
account is always safe. The caller relays whatever response comes back. One account's
turn (credential, retries, reading its answer) is `proxy.attempts`; whose fault a
failure is, and what it does to the account, is `accounts.health`.
"""

import logging
from datetime import UTC, datetime, timedelta

from accounts import health, selection, signals
from accounts.models import Account, HealthState
from accounts.pool import pool
from lib.h1 import Response
from lib.hot_settings import hot
from proxy import sniff, upstream
from proxy.attempts import (
    Call,
    Outcome,
    Turn,
    attempt,
    cool_down,
    failing_elsewhere,
    send_with_retries,
    trace,
)

__all__ = ["Call", "Outcome", "forward"]

logger = logging.getLogger(__name__)


async def forward(
    call: Call, *, strip: frozenset[str] = frozenset(), outcome: Outcome | None = None
) -> Outcome:
    """Send the call upstream through the pool's accounts, or with the client's credentials.

    Fills and returns `outcome` (a new one when not given): a caller that gives its own
    still reads the trace and the account in flight if it is cancelled on the way.

    1. No accounts at all: pass through with the client's own credentials.
    2. Otherwise plan the order (session holder first); every account that cannot
       serve this request (its health, or a per-model cap on its model) is traced.
    3. Try each candidate (proxy.attempts): the first response to relay wins, and its
       account takes the session if the holder can serve nothing now.
    4. None left: 429 with retry-after if limits are why, else 502/503. The proxy out of
       its own descriptors ends the walk with a 503 of its own (attempts), nobody's fault.
    """
    outcome = outcome or Outcome()
    accounts = await pool.accounts()
    if not accounts and not pool.read:
        # Never read (a worker started while the database is away): not "no accounts",
        # so the client's own credentials are not sent upstream in their place.
        outcome.status = 503
        outcome.message = "The accounts could not be read from the database yet; try again shortly"
        return outcome
    if not accounts:
        return await _passthrough(call, strip=strip, outcome=outcome)
    now = datetime.now(UTC)
    family = _family(call, accounts, now)
    duration = timedelta(milliseconds=hot.SESSION_DURATION_MS)
    plan = selection.plan(accounts, now=now, duration=duration, family=family)
    turn = Turn(call=call, strip=strip, family=family, outcome=outcome)
    turn.outcome.trace.extend(trace(a, reason) for a, reason in plan.skipped)
    served = await _walk(turn, plan.candidates)
    if served is None:
        if turn.local_failure:  # the proxy's own trouble: nothing to say about the accounts
            return turn.outcome
        if family is None:  # a cap this very request ran into counts too
            family = _family(call, accounts, now)
        return _exhausted(
            turn.outcome, accounts, tried=bool(plan.candidates), family=family, since=now
        )
    account, response = served
    _served(turn, account, duration=duration, status=response.status)
    # outcome.account is the account that answered already (send_with_retries set it).
    turn.outcome.response = response
    return turn.outcome


Served = tuple[Account, Response]


async def _walk(turn: Turn, candidates: list[Account]) -> Served | None:
    """Try the candidates in order until one gives an answer to relay.

    A server error (5xx but 529) that outlasts the retries is held while the next
    account is asked once, without retries: if it answers, the error was the first
    account's own (it cools down); if not, it is upstream-wide and the first answer
    is relayed with nobody benched. Never more than one such probe answers per
    request; a probe that gives no answer (its limit reached, no usable token) passes
    the question to the next account.
    """
    held: Served | None = None
    last = len(candidates) - 1
    for index, account in enumerate(candidates):
        turn.outcome.attempts = index
        turn.probing = held is not None
        response = await attempt(turn, account, is_last=index == last and held is None)
        if held is not None:
            if response is None and not turn.stop:
                continue
            return _after_probe(turn, held, account, response)
        if response is not None and _worth_a_probe(response) and index < last:
            held = (account, response)
            continue
        if response is not None:
            return account, response
        if turn.stop:
            break
    return held


def _worth_a_probe(response: Response) -> bool:
    # 529 is Anthropic-wide or model-wide overload: asking another account only adds load.
    return response.status >= 500 and response.status != 529


def _after_probe(turn: Turn, held: Served, account: Account, response: Response | None) -> Served:
    first, error = held
    if response is not None and response.status < 500:
        error.release()
        if failing_elsewhere(first, pool.current()):
            # An incident just ending answers the probe, and blamed the account that met
            # it first: benched, it lost the session (and its prompt cache) for good.
            words = "not benched: other accounts answered 5xx lately, an upstream incident"
            turn.outcome.trace.append(trace(first, words))
            return account, response
        reason = f"HTTP {error.status} after retries while {account.name} answered"
        cool_down(turn, first, reason, now=datetime.now(UTC))
        turn.outcome.trace.append(trace(first, f"cooling down: {reason}"))
        return account, response
    if response is not None:
        response.release()
    turn.outcome.account = first  # its answer is the one relayed
    turn.outcome.trace.append(
        trace(account, "failed too: an upstream-wide error, nobody benched; first answer relayed")
    )
    return first, error


def _family(call: Call, accounts: list[Account], now: datetime) -> str | None:
    """The request's model family, read only when some account sits one out."""
    if not any(health.active_family_limits(a, now) for a in accounts if a.model_limits):
        return None
    return health.model_family(sniff.request_model(call.body))


def _served(turn: Turn, account: Account, *, duration: timedelta, status: int) -> None:
    """Trace who served; accounts whose own failures others did not share sit out now.

    A 5xx/529 answer shares them: the upstream is failing for the account that gave
    it too, so an earlier network error proves nothing against its account.
    """
    now = datetime.now(UTC)
    for failed, reason in turn.own_failures if status < 500 else ():
        if failed is not account and cool_down(turn, failed, reason, now=now):
            logger.warning("proxy.account_cooling_down account=%s reason=%s", failed.name, reason)
    # The holder now, not the plan's: a request served meanwhile may have started a session.
    holder = selection.session_holder(pool.current(), now=now, duration=duration)
    if selection.takes_session(account, holder, now=now):
        arrived = datetime.fromtimestamp(turn.call.started_at, UTC)
        _take_session(account, now=now, arrived=arrived, duration=duration)
        turn.outcome.trace.append(trace(account, _session_words(holder)))
    if status < 400:
        turn.outcome.trace.append(trace(account, "served"))
    elif status < 500:  # a 5xx or 529 relayed has its own line (attempts._relayed_words)
        turn.outcome.trace.append(trace(account, f"answered {status}: relayed to the client"))


def _take_session(
    account: Account, *, now: datetime, arrived: datetime, duration: timedelta
) -> None:
    """`account` holds the session, and no other does (one session, on one account)."""
    for other in pool.current():
        if other.holds_session and other.pk != account.pk:
            pool.update(other, holds_session=False)
    if selection.session_live(account, now=now, duration=duration):
        pool.update(account, holds_session=True)
    else:
        pool.start_session(account, arrived, replaced_before=now - duration)


def _session_words(holder: Account | None) -> str:
    if holder is None:
        return "starts the session"
    return f"takes over the session from {holder.name}, which cannot serve now"


async def _passthrough(call: Call, *, strip: frozenset[str], outcome: Outcome) -> Outcome:
    turn = Turn(call=call, strip=strip, outcome=outcome)
    turn.outcome.trace.append({"account": None, "outcome": "no accounts: client credentials"})
    headers = upstream.build_headers(call.headers, strip=strip)
    response = await send_with_retries(turn, headers, None)
    if response is None and not turn.local_failure:
        turn.outcome.status = 502
        turn.outcome.message = "Failed to forward unauthenticated request"
    turn.outcome.response = response
    return turn.outcome


def _exhausted(
    outcome: Outcome,
    accounts: list[Account],
    *,
    tried: bool,
    family: str | None,
    since: datetime,
) -> Outcome:
    """No account produced a response: say why, in the error the client will get.

    Every account that could serve is held by a limit (its own, or its cap on this
    model family): 429. Some were tried and failed otherwise, and can still serve: 502.
    None can serve, from the start or since the walk (a refresh token rejected, a
    credential refused): 503 naming each account's state. 429 and 503 carry retry-after
    when an account comes back by itself (a limit resets, a cooldown ends): the first.
    States are read as of `since`, the walk's start: a limit the walk itself ran into
    counts even when the upstream gave it no time to run (`retry-after: 0`).
    """
    if tried:
        outcome.attempts += 1  # the last account's turn failed too
    now = datetime.now(UTC)
    limits = [_limit_until(a, since, family) for a in accounts]
    blocked = [until for until in limits if until is not None]
    healths = [(a, a.health(since)) for a in accounts]
    cooling = [
        _back_for(a, h.until, family, since)
        for a, h in healths
        if h.state == HealthState.COOLING_DOWN and h.until
    ]
    back = min(blocked + cooling, default=None)
    outcome.retry_after = _seconds_until(back, now) if back is not None else None
    if blocked and len(blocked) == sum(1 for _, h in healths if h.usable or _limited(h)):
        outcome.status, outcome.error_type = 429, "rate_limit_error"
        limited = sum(1 for _, h in healths if _limited(h))
        outcome.message = _limited_words(
            limited, len(blocked) - limited, family, wait=outcome.retry_after
        )
    elif tried and any(h.usable for _, h in healths):
        outcome.status, outcome.retry_after = 502, None
        outcome.message = f"All accounts failed to proxy the request ({outcome.attempts} attempted)"
    else:
        outcome.status = 503
        states = "; ".join(f"{a.name}: {h.describe()}" for a, h in healths)
        outcome.message = f"No usable account ({states})"
    if outcome.status != 502:  # 502: accounts were there and failed; this request's own trouble
        signals.announce_exhausted(status=outcome.status, message=outcome.message)
    return outcome


def _limited_words(limited: int, capped: int, family: str | None, *, wait: int | None) -> str:
    """Why every usable account is held: its own limit, or its cap on the request's model
    family. A cap is named, or it reads as if nothing could be served."""
    served = "(other models are served)"
    if limited and capped:
        held = f"are held: {limited} rate-limited, {capped} at their {family} limit {served}"
    elif capped:
        held = f"have reached their {family} limit {served}"
    else:
        held = "are rate-limited"
    return f"All {limited + capped} usable accounts {held}; the first is back in {wait} s"


def _limit_until(account: Account, now: datetime, family: str | None) -> datetime | None:
    """When a limit (account-wide, or on this family) stops holding the account, if one does."""
    state = account.health(now)
    if state.state == HealthState.RATE_LIMITED and state.until:
        return _back_for(account, state.until, family, now)
    if state.usable:
        return health.family_blocked_until(account, family, now)
    return None


def _back_for(account: Account, until: datetime, family: str | None, now: datetime) -> datetime:
    """When the account can serve this request again: its state's end, or later when a cap
    on the request's model family outlasts it (a 5-hour window that resets before the
    weekly opus cap told the client to retry into that cap)."""
    capped = health.family_blocked_until(account, family, now)
    return max(until, capped) if capped is not None else until


def _limited(state: health.Health) -> bool:
    return state.state == HealthState.RATE_LIMITED


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))
