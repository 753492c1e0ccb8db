"""Reading Anthropic's rate-limit headers: is this account blocked, until when, how full."""

import email.utils
import math
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

# `rejected` is what Anthropic sends today on a refusal; the rest are ccflare's set.
HARD_STATUSES = frozenset(
    {"rejected", "rate_limited", "blocked", "queueing_hard", "payment_required"}
)
_PREFIX = "anthropic-ratelimit-unified-"
# No window of Anthropic's is longer than a week: a reset or wait further out than
# this is a broken header and read as none (the fallback then benches the account).
# Clamped instead, one such header benched its account for a week.
MAX_WAIT_SECONDS = 8 * 24 * 3600
# A reset a window may have passed a moment ago (clocks differ, the answer took its time);
# one further back than this is a broken header, read as none: stored, `1000` showed an
# account's limit resetting in 1970.
MAX_PAST_SECONDS = 24 * 3600
# The length of the account's columns that keep the text values (rate_limit_status,
# rate_limit_claim, overage_status).
MAX_TEXT = 32


class RateLimitInfo(NamedTuple):
    """Read for every answer: a tuple is built in a fraction of a frozen dataclass's time
    (which sets each of its eleven fields through object.__setattr__)."""

    status: str | None = None
    reset: float | None = None  # epoch seconds of the unified window reset
    remaining: int | None = None
    claim: str | None = None  # which limit binds: five_hour, seven_day, ...
    five_hour_utilization: float | None = None
    five_hour_reset: float | None = None
    seven_day_utilization: float | None = None
    seven_day_reset: float | None = None
    overage_status: str | None = None
    retry_after: float | None = None  # seconds
    fallback_reset: float | None = None  # x-ratelimit-reset, epoch seconds

    @property
    def present(self) -> bool:
        return self.status is not None or self.five_hour_utilization is not None


def read(raw: Iterable[tuple[bytes, bytes]], *, now: float) -> RateLimitInfo:
    """An answer's rate-limit state, from its headers with lower-case names (as lib.h1 gives them).

    One pass: each header is looked up once among the few that say something, and only
    those are read (numbers straight from the bytes); the first of a name counts. A
    header missing or unreadable leaves its field None.
    """
    fields: dict[str, Any] = {}
    for name, value in raw:
        known = _RAW_FIELDS.get(name)
        if known is not None and known[0] not in fields:
            field, read_value = known
            fields[field] = read_value(value, now)
    return RateLimitInfo(**fields) if fields else _NOTHING


def has_limit_headers(raw: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether an answer says anything about the account's limits (docs/routing.md).

    A 429 without any rate-limit header is about that one request (its burst or
    size), not the account's windows. Names in lower case, as lib.h1 gives them.
    """
    return any(name.startswith(_LIMIT_PREFIXES) for name, _ in raw)


_LIMIT_PREFIXES = (b"anthropic-ratelimit-", b"x-ratelimit-")


def is_blocking(status_code: int, info: RateLimitInfo) -> bool:
    """A 429 takes the account out; so does a hard unified status or a window at 100% on
    any answer but a server error. A 5xx or 529 is the upstream's own trouble, handled by
    its rules (retried, relayed, nobody benched) whatever its headers say: read as a
    limit, one 529 with a full window benched every account and walked the pool."""
    return status_code == 429 or (status_code < 500 and account_wide(info))


def account_wide(info: RateLimitInfo) -> bool:
    """Whether a blocking answer names a window of the whole account: a hard unified
    status or a window at 100%. A 429 without one is a limit of the model class asked
    for (an API key's requests or tokens a minute) or a burst."""
    if info.status in HARD_STATUSES:
        return True
    return _full(info.five_hour_utilization) or _full(info.seven_day_utilization)


def blocked_until(info: RateLimitInfo, *, now: float, fallback_seconds: float) -> float:
    """When a blocked account becomes usable again (epoch seconds).

    Order: the unified reset (only when the unified status is what blocks: a 429
    under an `allowed` status is a short burst limit, not the window), a full
    window's own reset, retry-after, x-ratelimit-reset, then now + fallback.
    """
    unified = info.reset if info.status in HARD_STATUSES or info.status is None else None
    for candidate in (unified, _full_window_reset(info)):
        if candidate and candidate > now:
            return candidate
    if info.retry_after is not None:
        return now + info.retry_after
    if info.fallback_reset and info.fallback_reset > now:
        return info.fallback_reset
    return now + fallback_seconds


def _full_window_reset(info: RateLimitInfo) -> float | None:
    if _full(info.seven_day_utilization):
        return info.seven_day_reset
    if _full(info.five_hour_utilization):
        return info.five_hour_reset
    return None


def _full(utilization: float | None) -> bool:
    return utilization is not None and utilization >= 1.0


def _number(raw: bytes | str | None) -> float | None:
    """A finite number, or None (nan and inf are no answer). float() reads bytes as it
    reads text (ASCII digits, signs, points, exponents and surrounding whitespace)."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _epoch(raw: bytes | str | None, now: float) -> float | None:
    """A moment in epoch seconds, at most MAX_WAIT_SECONDS ahead and MAX_PAST_SECONDS
    back; None if not one."""
    value = _number(raw)
    if value is None or not now - MAX_PAST_SECONDS <= value <= now + MAX_WAIT_SECONDS:
        return None
    return value


def _int(raw: bytes | str | None) -> int | None:
    value = _number(raw)
    if value is None or abs(value) > 2**53:
        return None
    return int(value)


def _text(raw: bytes, now: float) -> str:
    """Cut to MAX_TEXT: PostgreSQL refuses a longer value for the account's columns, and
    the refused write held back every account update of the pool's flush (others' too)."""
    return raw[:MAX_TEXT].decode("latin-1")  # one byte a character either way


def _retry_after(raw: str | None, *, now: float) -> float | None:
    """retry-after is seconds or an HTTP date; one in the past is 0, one past
    MAX_WAIT_SECONDS is None."""
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is None:
        try:
            seconds = email.utils.parsedate_to_datetime(raw).timestamp() - now
        except (TypeError, ValueError, OverflowError):
            return None
    return max(seconds, 0.0) if seconds <= MAX_WAIT_SECONDS else None


# Header name -> (RateLimitInfo field, reader of its raw value at `now`).
_FIELDS: dict[str, tuple[str, Callable[[bytes, float], Any]]] = {
    _PREFIX + "status": ("status", _text),
    _PREFIX + "reset": ("reset", _epoch),
    _PREFIX + "remaining": ("remaining", lambda raw, now: _int(raw)),
    _PREFIX + "representative-claim": ("claim", _text),
    _PREFIX + "5h-utilization": ("five_hour_utilization", lambda raw, now: _number(raw)),
    _PREFIX + "5h-reset": ("five_hour_reset", _epoch),
    _PREFIX + "7d-utilization": ("seven_day_utilization", lambda raw, now: _number(raw)),
    _PREFIX + "7d-reset": ("seven_day_reset", _epoch),
    _PREFIX + "overage-status": ("overage_status", _text),
    "retry-after": ("retry_after", lambda raw, now: _retry_after(raw.decode("latin-1"), now=now)),
    "x-ratelimit-reset": ("fallback_reset", _epoch),
}
_RAW_FIELDS = {name.encode("latin-1"): known for name, known in _FIELDS.items()}
_NOTHING = RateLimitInfo()  # an answer without any of them (most API-key answers)
