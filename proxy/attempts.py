"""One account's turn at a request: its credential, the upstream call and its retries, and
what the answer says about the account.

- 529 (overloaded) and 5xx are retried in place with the RETRY_* backoff (a short
  `retry-after` is honoured), then the upstream's own answer is relayed: they are
  upstream-wide and never bench the account, nor walk the pool.
- A network error or timeout moves on to the next account, once per request. The
  failing account sits out only if another account then serves, with no 5xx or 529
  (the failure was its own).
- The proxy out of its own resources (no file descriptor, EMFILE/ENFILE, or socket memory
  for a new connection, upstream or to the token endpoint for a refresh) is nobody's: the
  walk stops, no account is marked, and the client gets a 503 to retry shortly (every
  other account would fail the same way).
- A 429 or a hard unified status with rate-limit headers benches the account until the
  reset, or only the model family of a per-model weekly cap; a 429 with no rate-limit
  headers at all is about this request: it moves on and benches nobody.
- A 429 that no account-wide window explains (no hard unified status, no window at 100%)
  is a limit of the model class asked for, as an API key's are kept: only that model
  family sits out, unless the model is of no known family.
- A 401 on an endpoint that proves the credential refreshes an OAuth token once, or marks
  the credential dead (accounts.recheck asks again later); on any other path, or as a
  page of something in front of the API instead of the API's error JSON, it is relayed
  and proves nothing.
"""

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from accounts import health, tokens
from accounts.models import Account
from accounts.pool import pool
from lib.h1 import OutOfResources, Response, UpstreamError
from lib.hot_settings import hot
from proxy import ratelimit, sniff, upstream

logger = logging.getLogger(__name__)

# A request's retries of a 529/5xx wait this long at most in all: a `retry-after` that
# would take it past is not waited out here, and the client gets the answer at once and
# can wait itself (SDKs and Claude Code do). Three retries of `retry-after: 10` kept a
# client 30 s before its 529.
MAX_RETRY_WAIT_SECONDS = 10.0
# A backoff is cut by up to this share at random, as the SDKs do: requests that failed
# together must not come back together, in waves.
BACKOFF_JITTER = 0.25
# The `retry-after` of the 503 when the proxy is out of descriptors: they come back as
# other requests end, so a short wait is enough, and SDKs and Claude Code honour it.
OUT_OF_RESOURCES_RETRY_SECONDS = 2
# Out of descriptors, every request fails alike: at most one log line this often (with the
# count since the last), or the log would grow by a line a request when it is least read.
OUT_OF_RESOURCES_LOG_SECONDS = 10.0


@dataclass(slots=True)
class Outcome:
    """The response to relay, or why there is none (then `status`/`error_type`/`message`)."""

    response: Response | None = None
    # The account whose answer is relayed. Without an answer (or before one came): the
    # last account the request was sent upstream with, None if it never was.
    account: Account | None = None
    trace: list[dict] = field(default_factory=list)
    # Accounts whose turn failed: those before the one that answered, or without an
    # answer all that had a turn. While the walk goes on, those before the current one.
    attempts: int = 0
    status: int = 502
    error_type: str = "api_error"
    message: str = ""
    retry_after: int | None = None
    # Whether the proxy tried to reach the upstream for it (sent it, or could not open a
    # connection to send it or refresh its token): without an answer, a failure (`error`),
    # else the proxy's own refusal (`rejected`).
    attempted: bool = False


@dataclass(slots=True)
class Call:
    method: str
    url: str  # absolute; its path and query go out exactly as given
    headers: list[tuple[bytes, bytes]]
    body: bytes
    path: str = "/v1/messages"  # decoded: decides whether a 401 condemns the credential
    # When the request arrived (epoch seconds, its record's timestamp): a session it
    # starts counts from there.
    started_at: float = field(default_factory=time.time)


@dataclass(slots=True)
class Turn:
    """One request's walk through the pool."""

    call: Call
    strip: frozenset[str] = frozenset()
    family: str | None = None
    outcome: Outcome = field(default_factory=Outcome)
    # Network failures so far: (account, reason); they cool down only if another serves.
    own_failures: list[tuple[Account, str]] = field(default_factory=list)
    stop: bool = False  # no further account may be tried
    # The proxy ran out of its own resources: the outcome holds the 503 already.
    local_failure: bool = False
    probing: bool = False  # asking a second account once after a server error: no retries
    # The token endpoint failed in this request (down, hung, a 5xx or 429): it is every
    # OAuth account's, so no later account waits on it again. A refusal of one token
    # (a 4xx, invalid_grant) says nothing of the others.
    refresh_failed: bool = False


# The endpoints whose 401 proves the credential bad: inference and models, which every
# valid key and token may call. A 401 anywhere else says nothing about the account.
_PROVING_PATHS = frozenset({"/v1/messages", "/v1/messages/count_tokens", "/v1/models"})


def proves_credential(path: str) -> bool:
    return path in _PROVING_PATHS or path.startswith("/v1/models/")


async def attempt(turn: Turn, account: Account, *, is_last: bool) -> Response | None:
    """One account's turn. Returns the response to relay, or None to move on."""
    headers = await _account_headers(turn, account)
    if headers is None:
        return None
    # The token these headers carry: a 401 is about it, whatever the account holds by then
    # (a late 401 of a request sent before another's refresh asks for no second one).
    sent_token = account.access_token
    response = await send_with_retries(turn, headers, account)
    if response is not None and response.status == 401:
        response = await _after_401(turn, account, response, is_last=is_last, sent=sent_token)
    if response is None:
        return None
    # Only an answer that is no error ends a streak: a 401 after a fresh token just
    # cooled the account down and must not reset the doubling.
    if response.status < 400 and (reset := health.succeeded(account)):
        pool.update(account, **reset)
    return _read_limits(turn, account, response, is_last=is_last)


def _read_limits(
    turn: Turn, account: Account, response: Response, *, is_last: bool
) -> Response | None:
    """Keep the account's window state; bench it if the answer says a limit holds it."""
    now = time.time()
    info = ratelimit.read(response.raw_headers, now=now)
    if info.present:
        _note_windows(account, info)
    if not ratelimit.is_blocking(response.status, info):
        return response
    if response.status == 429 and not ratelimit.has_limit_headers(response.raw_headers):
        turn.outcome.trace.append(
            trace(account, "429 without rate-limit headers: about this request, not benched")
        )
        return _relay_if_last(response, is_last=is_last)
    until = ratelimit.blocked_until(info, now=now, fallback_seconds=hot.RATE_LIMIT_FALLBACK_SECONDS)
    words = _bench(account, info, until=until, family=_request_family(turn))
    if response.status < 400:
        # Served, but the window is now full: relay this answer (sending the call
        # again elsewhere would pay for it twice); later calls skip the account.
        return response
    turn.outcome.trace.append(trace(account, words))
    response.release()
    return None


def _bench(
    account: Account, info: ratelimit.RateLimitInfo, *, until: float, family: str | None
) -> str:
    """Mark the limit (the account, or one model family) and say so for the trace."""
    moment = _dt(until)
    assert moment is not None
    capped, claim = health.claim_family(info.claim), info.claim
    if capped is not None and family is not None and health.model_family(capped) is None:
        # A claim naming a family no model is known by (a name Anthropic adds later): the
        # family refused is the request's, or every call of it would be refused again.
        # A known family is kept as named, whichever request brought the news.
        capped = family
    if capped is None and family is not None and not ratelimit.account_wide(info):
        # No account-wide window holds it: a limit of the model class asked for (an API
        # key's requests or tokens a minute, a burst). The other models are not held.
        capped, claim = family, health.MODEL_RATE_LIMIT
    if capped is not None and claim is not None:
        pool.cap_family(account, capped, health.family_cap(until=moment, claim=claim))
        scope = f"its {capped} limit ({claim})"
    else:
        pool.update(account, **health.rate_limited(moment))
        scope = "rate-limited"
    logger.warning(
        "proxy.account_rate_limited account=%s scope=%s until=%s",
        account.name,
        capped or "account",
        moment.isoformat(),
    )
    if capped is not None:
        return f"{scope} is reached until {moment.isoformat()}; other models keep the account"
    return f"{scope} until {moment.isoformat()}"


def _request_family(turn: Turn) -> str | None:
    """The request's model family: the walk reads it only once some account has a cap."""
    return turn.family or health.model_family(sniff.request_model(turn.call.body))


async def _account_headers(turn: Turn, account: Account) -> list[tuple[str, str]] | None:
    """Upstream headers carrying the account's credential; None (traced) when it has none now.

    An OAuth token is refreshed first when close to expiry; a fresh one costs
    no database access (the pool snapshot holds it).
    """
    if (
        account.uses_bearer
        and turn.refresh_failed
        and tokens.needs_refresh(account, datetime.now(UTC))
    ):
        if tokens.expired(account):
            turn.outcome.trace.append(trace(account, _ENDPOINT_FAILED))
            return None
        # Its token still works: sent as it is, without waiting for a refresh.
    elif account.uses_bearer:
        try:
            await tokens.ensure_fresh(account)
        except tokens.OutOfResources as exc:
            _out_of_resources(turn, account, exc.shortage, step="token refresh not sent")
            return None
        except tokens.RefreshError as exc:
            turn.refresh_failed = isinstance(exc, tokens.EndpointDown)
            turn.outcome.trace.append(trace(account, f"no usable token: {exc}"))
            return None
    # Checked again: the refresh may have adopted credentials of another kind.
    credential = account.access_token if account.uses_bearer else account.api_key
    if not upstream.header_safe(credential):
        # Cannot be sent at all (a line break would split the header): the account
        # needs a new credential, and the request moves on.
        reason = "stored credential cannot be sent (control characters)"
        pool.update(account, **health.credential_rejected(reason))
        turn.outcome.trace.append(trace(account, "stored credential is malformed: needs re-auth"))
        return None
    return _headers(turn, account, credential)


_ENDPOINT_FAILED = "no refresh asked: the token endpoint failed this request's earlier one"


def _headers(turn: Turn, account: Account, credential: str | None) -> list[tuple[str, str]]:
    if account.uses_bearer:
        return upstream.build_headers(turn.call.headers, bearer=credential, strip=turn.strip)
    return upstream.build_headers(turn.call.headers, api_key=credential, strip=turn.strip)


async def _after_401(
    turn: Turn, account: Account, response: Response, *, is_last: bool, sent: str | None
) -> Response | None:
    """The upstream refused the account's credential.

    Off the endpoints that prove a credential, the 401 is relayed and proves nothing.
    A refreshable OAuth account gets one refresh and one more try. Anything else
    (API key, long-lived token) is dead until new credentials arrive: it needs
    re-auth. Returns the response to relay (the last account's 401 is passed on),
    or None to move on.
    """
    if not proves_credential(turn.call.path):
        turn.outcome.trace.append(trace(account, "401 on an endpoint that does not prove the key"))
        return response
    if not is_api_answer(response):
        # A page of something in front of the API (a gateway, a captive portal): no
        # verdict on the credential, and every other account would meet the same page.
        turn.outcome.trace.append(
            trace(account, "401 that is not the API's (no JSON): relayed, no account condemned")
        )
        return response
    if not account.can_refresh:
        pool.update(account, **health.credential_rejected(health.REJECTED_BY_UPSTREAM))
        turn.outcome.trace.append(trace(account, "rejected with 401: needs re-auth"))
        return _relay_if_last(response, is_last=is_last)
    response.release()
    if turn.refresh_failed:
        turn.outcome.trace.append(trace(account, f"401, then {_ENDPOINT_FAILED}"))
        return None
    try:
        await tokens.refresh(account, reason="401", refused=sent)
    except tokens.OutOfResources as exc:
        _out_of_resources(turn, account, exc.shortage, step="401, then token refresh not sent")
        return None
    except tokens.RefreshError as exc:
        turn.refresh_failed = isinstance(exc, tokens.EndpointDown)
        turn.outcome.trace.append(trace(account, f"401, then no usable token: {exc}"))
        return None
    turn.outcome.trace.append(trace(account, "401: token refreshed, retried"))
    retry = await send_with_retries(turn, _headers(turn, account, account.access_token), account)
    if retry is not None and retry.status == 401:
        # A token fresh from the endpoint still refused: not the token's age, and
        # not the upstream's: sit out and try again later.
        cool_down(turn, account, "HTTP 401 with a freshly refreshed token", now=datetime.now(UTC))
        turn.outcome.trace.append(trace(account, "401 again after the refresh: cooling down"))
        return _relay_if_last(retry, is_last=is_last)
    return retry


def cool_down(turn: Turn, account: Account, reason: str, *, now: datetime) -> bool:
    """Sit the account out for a failure of its own, once per incident: requests in flight
    together that all fail count once (health.own_failure). Whether anything changed."""
    began = datetime.fromtimestamp(turn.call.started_at, UTC)
    fields = health.own_failure(account, reason, now=now, began=began)
    if fields:
        pool.update(account, **fields)
    return bool(fields)


def is_api_answer(response: Response) -> bool:
    """Whether an error answer is the API's own (its error JSON), not a page of something
    in front of it; a missing content type counts as the API's (only a page says it is one)."""
    content_type = response.headers.get("content-type")
    if content_type is None:
        return True
    return content_type.partition(";")[0].strip().lower() == "application/json"


def _relay_if_last(response: Response, *, is_last: bool) -> Response | None:
    if is_last:
        return response
    response.release()
    return None


async def send_with_retries(
    turn: Turn, headers: list[tuple[str, str]], account: Account | None
) -> Response | None:
    """Send, retrying 529/5xx in place with backoff; their last answer is relayed as is.

    A network error ends this account's turn (None); after a second one in the
    same request no further account is tried (`turn.stop`): an outage that every
    account shares is not walked account by account.
    """
    call, session = turn.call, upstream.get_session()
    # The record names it whatever comes back, even nothing (a cancel, a network error).
    turn.outcome.account, turn.outcome.attempted = account, True
    retries = 0 if turn.probing else hot.RETRY_ATTEMPTS
    waited = 0.0
    for retry in range(retries + 1):
        try:
            response = await session.request(call.method, call.url, headers, call.body)
        except OutOfResources as exc:
            _out_of_resources(turn, account, exc)
            return None
        except (UpstreamError, TimeoutError) as exc:
            _network_failed(turn, account, exc)
            return None
        if response.resent:
            turn.outcome.trace.append(trace(account, _RESENT))
        if response.status < 500:
            return response
        note_upstream_error(account)
        wait = _retry_wait(response, retry, waited=waited)
        if retry == retries or wait is None:
            turn.outcome.trace.append(trace(account, _relayed_words(response.status, retry)))
            return response
        turn.outcome.trace.append(trace(account, f"status {response.status}, retried"))
        response.release()
        await asyncio.sleep(wait)
        waited += wait
    return None


# When each account last answered a 5xx or 529 (wall clock), in this process.
_upstream_errors: dict[uuid.UUID, float] = {}
# An error another account gave within this long says the upstream itself is failing.
UPSTREAM_INCIDENT_SECONDS = 60.0


def note_upstream_error(account: Account | None) -> None:
    if account is not None:
        _upstream_errors[account.pk] = time.time()


def failing_elsewhere(account: Account, accounts: Iterable[Account]) -> bool:
    """Whether another of `accounts` answered a 5xx or 529 lately: an upstream incident, in
    which one account's error proves nothing against it, even if another answers now (the
    incident may just have ended)."""
    since = time.time() - UPSTREAM_INCIDENT_SECONDS
    return any(
        other.pk != account.pk and _upstream_errors.get(other.pk, 0.0) > since for other in accounts
    )


_RESENT = "its pooled connection closed as the request went out: sent again on a fresh one"


def _network_failed(turn: Turn, account: Account | None, exc: BaseException) -> None:
    name = type(exc).__name__
    logger.warning("proxy.upstream_unreachable error=%s", name)
    if turn.own_failures or account is None:
        turn.stop = True
        turn.outcome.trace.append(trace(account, f"failed: network error ({name}); not retried"))
        return
    turn.own_failures.append((account, f"network error ({name})"))
    turn.outcome.trace.append(trace(account, f"failed: network error ({name}); next account"))


def _out_of_resources(
    turn: Turn, account: Account | None, exc: OutOfResources, *, step: str = "not sent"
) -> None:
    """This process could not open a connection upstream, or to the token endpoint for the
    account's refresh: no account's fault (accounts.health). `step` is what did not happen.

    The walk stops (the next account needs a descriptor as well) and the outcome is a 503
    with a short retry-after, recorded as the proxy's failure (`error`). It names no
    account: none is at fault, and a record naming one would count the request against it.
    """
    turn.stop = turn.local_failure = True
    outcome = turn.outcome
    outcome.account, outcome.attempted = None, True
    outcome.status, outcome.error_type = 503, "api_error"
    outcome.retry_after = OUT_OF_RESOURCES_RETRY_SECONDS
    outcome.message = (
        f"The proxy is out of local resources ({exc}) and could not open a connection "
        "upstream; no account is at fault. Try again shortly."
    )
    outcome.trace.append(
        trace(
            account,
            f"{step}: the proxy is out of local resources ({exc}); no account's "
            "fault, no other account tried",
        )
    )
    failed = _out_of_resources_log.due(time.monotonic())
    if failed is not None:
        logger.error("proxy.out_of_resources error=%s failed_requests=%d", exc, failed)


@dataclass(slots=True)
class _LogThrottle:
    """One line per `every` seconds at most; each line says how many events it stands for."""

    every: float
    last: float = float("-inf")
    events: int = 0

    def due(self, now: float) -> int | None:
        """The events since the last line (this one included) when a line is due, else None."""
        self.events += 1
        if now - self.last < self.every:
            return None
        events, self.events, self.last = self.events, 0, now
        return events


_out_of_resources_log = _LogThrottle(OUT_OF_RESOURCES_LOG_SECONDS)


def _retry_wait(response: Response, retry: int, *, waited: float) -> float | None:
    """Seconds to wait before the next try; None when the upstream says not to retry
    (`x-should-retry: false`, as the SDKs read it) or when the wait would take the
    request's retries past MAX_RETRY_WAIT_SECONDS."""
    if _says_no_retry(response):
        return None
    asked = ratelimit.read(response.raw_headers, now=time.time()).retry_after
    wait = max(backoff_seconds(retry, jitter=random.random()), asked or 0.0)
    if waited + wait > MAX_RETRY_WAIT_SECONDS:
        return None
    return wait


def _says_no_retry(response: Response) -> bool:
    return any(
        name == b"x-should-retry" and value.strip().lower() == b"false"
        for name, value in response.raw_headers
    )


def backoff_seconds(retry: int, *, jitter: float = 0.0) -> float:
    """The wait before retry `retry` (0 first); `jitter` in [0, 1) cuts it by up to
    BACKOFF_JITTER."""
    full = settings.RETRY_DELAY_MS * (settings.RETRY_BACKOFF**retry) / 1000
    return full * (1 - BACKOFF_JITTER * jitter)


def _relayed_words(status: int, retries: int) -> str:
    if status == 529:
        return (
            f"upstream overloaded (529) after {retries} retries: relayed to the client; "
            "not the account's fault, nobody benched"
        )
    return f"server error {status} after {retries} retries"


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


def trace(account: Account | None, outcome: str) -> dict:
    if account is None:
        return {"account": None, "outcome": outcome}
    return {"account": account.name, "id": str(account.pk), "outcome": outcome}


def _dt(epoch: float | None) -> datetime | None:
    """The moment `epoch` as an aware datetime; each answer's resets come through here.

    The same few resets recur for hours (a window's end), so each is worked out once.
    """
    if epoch is None:
        return None
    moment = _moments.get(epoch)
    if moment is None:
        if len(_moments) >= _MOMENTS_KEPT:
            _moments.clear()
        moment = _moments[epoch] = datetime.fromtimestamp(epoch, tz=UTC)
    return moment


_moments: dict[float, datetime] = {}
_MOMENTS_KEPT = 256
