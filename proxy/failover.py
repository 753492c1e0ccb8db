"""Getting one upstream response for a request: account order, retries, failover, the trace.

Everything here happens before any body byte reaches the client, so moving to
another account is always safe. The caller relays whatever response comes back.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
from django.conf import settings

from accounts import selection
from accounts.models import Account
from accounts.pool import pool
from proxy import ratelimit, upstream

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """The response to relay, or why there is none (then `status`/`error_type`/`message`)."""

    response: aiohttp.ClientResponse | None = None
    account: Account | None = None
    trace: list[dict] = field(default_factory=list)
    attempts: int = 0
    status: int = 502
    error_type: str = "api_error"
    message: str = ""
    retry_after: int | None = None


@dataclass(slots=True)
class Call:
    method: str
    url: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


async def forward(call: Call, *, strip: frozenset[str] = frozenset()) -> Outcome:
    """Send the call upstream through the pool's accounts, or with the client's credentials.

    1. No accounts at all: pass through with the client's own credentials.
    2. Otherwise plan the order (session strategy); every unusable account is traced.
    3. Try each candidate: retries on 529/5xx, failover on network errors and
       rate limits; the first acceptable response wins.
    4. None left: 429 with retry-after if rate limits are why, else 502/503.
    """
    accounts = await pool.accounts()
    if not accounts:
        return await _attempt_passthrough(call, strip=strip)
    now = datetime.now(UTC)
    plan = selection.plan(
        accounts, now=now, duration=timedelta(milliseconds=settings.SESSION_DURATION_MS)
    )
    if plan.start_session is not None:
        pool.update(plan.start_session, session_start=now, session_request_count=0)
    outcome = Outcome(trace=[_trace(a, reason) for a, reason in plan.skipped])
    last = len(plan.candidates) - 1
    for index, account in enumerate(plan.candidates):
        outcome.attempts = index
        response = await _attempt(call, account, outcome, is_last=index == last, strip=strip)
        if response is not None:
            outcome.response, outcome.account = response, account
            outcome.trace.append(_trace(account, "served"))
            return outcome
    return _exhausted(outcome, accounts)


async def _attempt_passthrough(call: Call, *, strip: frozenset[str]) -> Outcome:
    outcome = Outcome(trace=[{"account": None, "outcome": "no accounts: client credentials"}])
    headers = upstream.build_headers(call.headers, strip=strip)
    response = await _send_with_retries(call, headers, outcome, label=None, is_last=True)
    if response is None:
        outcome.status, outcome.message = 502, "Failed to forward unauthenticated request"
    outcome.response = response
    return outcome


async def _attempt(
    call: Call, account: Account, outcome: Outcome, *, is_last: bool, strip: frozenset[str]
) -> aiohttp.ClientResponse | None:
    """One account's turn. Returns the response to relay, or None to move on."""
    if account.kind == Account.Kind.OAUTH:
        headers = upstream.build_headers(call.headers, bearer=account.access_token, strip=strip)
    else:
        headers = upstream.build_headers(call.headers, api_key=account.api_key, strip=strip)
    response = await _send_with_retries(call, headers, outcome, label=account, is_last=is_last)
    if response is None:
        return None
    now = time.time()
    info = ratelimit.parse(response.headers, now=now)
    if info.present:
        _note_windows(account, info)
    if ratelimit.is_blocking(response.status, info):
        until = ratelimit.blocked_until(
            info, now=now, fallback_seconds=settings.RATE_LIMIT_FALLBACK_SECONDS
        )
        _mark_rate_limited(account, until=until, status=response.status)
        outcome.trace.append(_trace(account, f"rate-limited until {_iso(until)}"))
        response.release()
        return None
    return response


async def _send_with_retries(
    call: Call,
    headers: list[tuple[str, str]],
    outcome: Outcome,
    *,
    label: Account | None,
    is_last: bool,
) -> aiohttp.ClientResponse | None:
    """Send, retrying 529/5xx with backoff; the last account's final 5xx is relayed as is."""
    session = upstream.get_session()
    for retry in range(settings.RETRY_ATTEMPTS + 1):
        try:
            response = await session.request(
                call.method, call.url, headers=headers, data=call.body, allow_redirects=False
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome.trace.append(_trace(label, f"failed: network error ({type(exc).__name__})"))
            logger.warning("proxy.upstream_unreachable error=%s", type(exc).__name__)
            return None
        if response.status < 500:
            return response
        if retry == settings.RETRY_ATTEMPTS:
            if is_last:
                return response
            outcome.trace.append(_trace(label, f"failed with status {response.status}"))
            response.release()
            return None
        outcome.trace.append(_trace(label, f"status {response.status}, retried"))
        response.release()
        await asyncio.sleep(_backoff_seconds(retry))
    return None


def _backoff_seconds(retry: int) -> float:
    return settings.RETRY_DELAY_MS * (settings.RETRY_BACKOFF**retry) / 1000


def _exhausted(outcome: Outcome, accounts: list[Account]) -> Outcome:
    """No account produced a response: say why, in the error the client will get."""
    now = datetime.now(UTC)
    limited = [a.rate_limited_until for a in accounts if a.is_rate_limited(now) and not a.paused]
    usable_left = [a for a in accounts if a.is_usable(now)]
    if limited and not usable_left:
        wait = max(1, int((min(limited) - now).total_seconds() + 0.999))
        outcome.status, outcome.error_type, outcome.retry_after = 429, "rate_limit_error", wait
        outcome.message = (
            f"All {len(limited)} usable accounts are rate-limited; the first resets in {wait} s"
        )
    elif not any(a.is_usable(now) or a.is_rate_limited(now) for a in accounts):
        outcome.status = 503
        outcome.message = f"No usable account: all {len(accounts)} accounts are paused"
    else:
        outcome.status = 502
        outcome.message = (
            f"All accounts failed to proxy the request ({outcome.attempts + 1} attempted)"
        )
    return outcome


def _note_windows(account: Account, info: ratelimit.RateLimitInfo) -> None:
    """Keep the account's latest window state; write only what changed."""
    fields = {
        "rate_limit_status": info.status,
        "rate_limit_reset": _dt(info.reset),
        "rate_limit_remaining": info.remaining,
        "rate_limit_claim": info.claim,
        "five_hour_utilization": info.five_hour_utilization,
        "five_hour_reset": _dt(info.five_hour_reset),
        "seven_day_utilization": info.seven_day_utilization,
        "seven_day_reset": _dt(info.seven_day_reset),
        "overage_status": info.overage_status,
    }
    changed = {k: v for k, v in fields.items() if getattr(account, k) != v}
    if changed:
        pool.update(account, **changed)


def _mark_rate_limited(account: Account, *, until: float, status: int) -> None:
    pool.update(account, rate_limited_until=_dt(until))
    logger.warning(
        "proxy.account_rate_limited account=%s status=%s until=%s",
        account.name,
        status,
        _iso(until),
    )


def _trace(account: Account | None, outcome: str) -> dict:
    if account is None:
        return {"account": None, "outcome": outcome}
    return {"account": account.name, "id": str(account.pk), "outcome": outcome}


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()
