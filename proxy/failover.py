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
import yarl
from django.conf import settings

from accounts import selection, tokens
from accounts.models import Account, HealthState, cooldown_delay
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
    url: yarl.URL | str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    path: str = "/v1/messages"  # decoded: decides whether a 401 condemns the credential


# The endpoints whose 401 proves the credential bad: inference and models, which every
# valid key and token may call. A 401 anywhere else says nothing about the account.
_PROVING_PATHS = frozenset({"/v1/messages", "/v1/messages/count_tokens", "/v1/models"})


def proves_credential(path: str) -> bool:
    return path in _PROVING_PATHS or path.startswith("/v1/models/")


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
    return _exhausted(outcome, accounts, tried=bool(plan.candidates))


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
    headers = await _account_headers(call, account, outcome, strip=strip)
    if headers is None:
        return None
    response = await _send_with_retries(call, headers, outcome, label=account, is_last=is_last)
    if response is not None and response.status == 401 and not proves_credential(call.path):
        outcome.trace.append(_trace(account, "401 on an endpoint that does not prove the key"))
        return response
    if response is not None and response.status == 401:
        response = await _after_401(call, account, response, outcome, is_last=is_last, strip=strip)
    if response is None:
        return None
    if account.failure_streak and response.status < 500:
        pool.update(account, failure_streak=0)
    now = time.time()
    info = ratelimit.parse(response.headers, now=now)
    if info.present:
        _note_windows(account, info)
    if not ratelimit.is_blocking(response.status, info):
        return response
    until = ratelimit.blocked_until(
        info, now=now, fallback_seconds=settings.RATE_LIMIT_FALLBACK_SECONDS
    )
    _mark_rate_limited(account, until=until, status=response.status)
    if response.status < 400:
        # Served, but the window is now full: relay this answer (sending the call
        # again elsewhere would pay for it twice); later calls skip the account.
        return response
    outcome.trace.append(_trace(account, f"rate-limited until {_iso(until)}"))
    response.release()
    return None


async def _account_headers(
    call: Call, account: Account, outcome: Outcome, *, strip: frozenset[str]
) -> list[tuple[str, str]] | None:
    """Upstream headers carrying the account's credential; None (traced) when it has none now.

    An OAuth token is refreshed first when close to expiry; a fresh one costs
    no database access (the pool snapshot holds it).
    """
    if account.uses_bearer:
        try:
            await tokens.ensure_fresh(account)
        except tokens.RefreshError as exc:
            outcome.trace.append(_trace(account, f"no usable token: {exc}"))
            return None
    # Checked again: the refresh may have adopted credentials of another kind.
    credential = account.access_token if account.uses_bearer else account.api_key
    if not upstream.header_safe(credential):
        # Cannot be sent at all (a line break would split the header): the account
        # needs a new credential, and the request moves on.
        pool.update(account, reauth_reason="stored credential cannot be sent (control characters)")
        outcome.trace.append(_trace(account, "stored credential is malformed: needs re-auth"))
        return None
    if account.uses_bearer:
        return upstream.build_headers(call.headers, bearer=credential, strip=strip)
    return upstream.build_headers(call.headers, api_key=credential, strip=strip)


async def _after_401(
    call: Call,
    account: Account,
    response: aiohttp.ClientResponse,
    outcome: Outcome,
    *,
    is_last: bool,
    strip: frozenset[str],
) -> aiohttp.ClientResponse | None:
    """The upstream refused the account's credential.

    A refreshable OAuth account gets one refresh and one more try. Anything else
    (API key, long-lived token) is dead until new credentials arrive: it needs
    re-auth. Returns the response to relay (the last account's 401 is passed
    on), or None to move on.
    """
    if not account.can_refresh:
        pool.update(account, reauth_reason="credential rejected by the upstream (HTTP 401)")
        outcome.trace.append(_trace(account, "rejected with 401: needs re-auth"))
        return _relay_if_last(response, is_last=is_last)
    response.release()
    try:
        await tokens.refresh(account, reason="401")
    except tokens.RefreshError as exc:
        outcome.trace.append(_trace(account, f"401, then no usable token: {exc}"))
        return None
    outcome.trace.append(_trace(account, "401: token refreshed, retried"))
    headers = upstream.build_headers(call.headers, bearer=account.access_token, strip=strip)
    retry = await _send_with_retries(call, headers, outcome, label=account, is_last=is_last)
    if retry is not None and retry.status == 401:
        # A token fresh from the endpoint still refused: not the token's age.
        # Sit out and try again later rather than give up on the account.
        _cool_down(account, "HTTP 401 with a freshly refreshed token")
        outcome.trace.append(_trace(account, "401 again after the refresh"))
        return _relay_if_last(retry, is_last=is_last)
    return retry


def _relay_if_last(
    response: aiohttp.ClientResponse, *, is_last: bool
) -> aiohttp.ClientResponse | None:
    if is_last:
        return response
    response.release()
    return None


def _cool_down(account: Account, reason: str) -> None:
    """Take the account out for a while after an upstream error; longer each time in a row."""
    streak = account.failure_streak + 1
    until = datetime.now(UTC) + cooldown_delay(streak)
    pool.update(account, failure_streak=streak, cooldown_until=until, cooldown_reason=reason)
    logger.warning(
        "proxy.account_cooling_down account=%s streak=%d until=%s",
        account.name,
        streak,
        until.isoformat(),
    )


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
            if label is not None:
                _cool_down(label, f"network error ({type(exc).__name__})")
            return None
        if response.status < 500:
            return response
        if retry == settings.RETRY_ATTEMPTS:
            if label is not None:
                _cool_down(label, f"HTTP {response.status} after {retry} retries")
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


def _exhausted(outcome: Outcome, accounts: list[Account], *, tried: bool) -> Outcome:
    """No account produced a response: say why, in the error the client will get.

    Every account that could serve is rate-limited: 429 with retry-after. Some
    were tried and failed otherwise: 502. None could serve to begin with: 503
    naming each account's state, with retry-after when one comes back by itself.
    """
    now = datetime.now(UTC)
    healths = [(a, a.health(now)) for a in accounts]
    limited = [h.until for _, h in healths if h.state == HealthState.RATE_LIMITED]
    if limited and not any(h.usable for _, h in healths):
        wait = _seconds_until(min(limited), now)
        outcome.status, outcome.error_type, outcome.retry_after = 429, "rate_limit_error", wait
        outcome.message = (
            f"All {len(limited)} usable accounts are rate-limited; the first resets in {wait} s"
        )
    elif tried:
        outcome.status = 502
        outcome.message = (
            f"All accounts failed to proxy the request ({outcome.attempts + 1} attempted)"
        )
    else:
        outcome.status = 503
        states = "; ".join(f"{a.name}: {h.describe()}" for a, h in healths)
        outcome.message = f"No usable account ({states})"
        cooling = [h.until for _, h in healths if h.state == HealthState.COOLING_DOWN]
        outcome.retry_after = _seconds_until(min(cooling), now) if cooling else None
    return outcome


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))


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
