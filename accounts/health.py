"""Account health: the states, why an upstream failure is or is not the account's fault, and
every transition between states, in one place.

Whose fault is it:
- the account's own: its credential was rejected (needs re-auth), its token could not be
  refreshed, a network error that another account did not get on the same request, a
  401 that survives a fresh token (cool down, doubling);
- the account's limits: a 429 or a `rejected` status with rate-limit headers benches the
  account until the window's reset, or only one model family for a per-model weekly cap
  or a 429 that no account-wide window explains (an API key's per-model-class limit);
- nobody's (upstream-wide): 529 overloaded and 5xx are retried in place and then relayed,
  and a 429 with no rate-limit headers at all is about that request only. They never bench
  an account: benching every account the incident touches would turn Anthropic's outage
  into our own;
- nobody's (the proxy's own): the proxy out of file descriptors or socket memory when it
  opens a connection upstream or to the token endpoint for a refresh (EMFILE, ENFILE,
  ENOBUFS, ENOMEM). No account is marked and no other is tried: each would fail the same
  way, and cooling them down would turn a short shortage into an outage.

The transitions return the fields to write, so the proxy (through the pool's write-behind),
the token code, onboarding and the admin all change health the same way.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import models


class HealthState(models.TextChoices):
    OK = "ok", "OK"
    RATE_LIMITED = "rate_limited", "Rate limited"
    COOLING_DOWN = "cooling_down", "Cooling down"
    NEEDS_REAUTH = "needs_reauth", "Needs re-auth"
    PAUSED = "paused", "Paused"


@dataclass(frozen=True, slots=True)
class Health:
    """Whether an account can serve now; if not, why, and until when (None: until someone acts)."""

    state: HealthState
    reason: str = ""
    until: datetime | None = None

    @property
    def usable(self) -> bool:
        return self.state == HealthState.OK

    def describe(self) -> str:
        """One line for traces and lists, e.g. 'cooling down until <ISO>: HTTP 503'."""
        words = {
            HealthState.OK: "ok",
            HealthState.PAUSED: "paused",
            HealthState.RATE_LIMITED: "rate-limited",
            HealthState.COOLING_DOWN: "cooling down",
            HealthState.NEEDS_REAUTH: "needs re-auth",
        }
        text = words[self.state]
        if self.until is not None:
            text += f" until {self.until.isoformat()}"
        return f"{text}: {self.reason}" if self.reason else text


class HealthFields(Protocol):
    failure_streak: int
    cooldown_until: datetime | None
    model_limits: dict[str, Any]


Fields = dict[str, Any]

# Fields that say an account is unhealthy because of its credentials or errors.
_CREDENTIAL_STATE: Fields = {
    "reauth_reason": None,
    "failure_streak": 0,
    "cooldown_until": None,
    "cooldown_reason": None,
}


def cooldown_delay(failures: int) -> timedelta:
    """How long an account sits out after `failures` own errors in a row: doubles, capped."""
    base, cap = settings.COOLDOWN_BASE_SECONDS, settings.COOLDOWN_MAX_SECONDS
    return timedelta(seconds=min(cap, base * 2 ** max(0, failures - 1)))


def own_failure(
    account: HealthFields, reason: str, *, now: datetime, began: datetime | None = None
) -> Fields:
    """A failure that is the account's own: sit out, longer each time in a row.

    `began`: when the failed request began. One that began before the account's running
    cooldown did is part of the incident that set it (requests in flight together that
    all fail): nothing changes, or one burst of N failures sat the account out 2**(N-1)
    times as long. A cooling account is sent nothing new, so its next failure comes after
    the cooldown, and that one counts in the streak.
    """
    if began is not None and began < _cooling_since(account, now):
        return {}
    streak = account.failure_streak + 1
    return {
        "failure_streak": streak,
        "cooldown_until": now + cooldown_delay(streak),
        "cooldown_reason": reason[:200],
    }


def _cooling_since(account: HealthFields, now: datetime) -> datetime:
    """When the account's running cooldown began (the distant past when it is not cooling)."""
    until = account.cooldown_until
    if until is None or until <= now or not account.failure_streak:
        return datetime.min.replace(tzinfo=UTC)
    return until - cooldown_delay(account.failure_streak)


def succeeded(account: HealthFields) -> Fields:
    """A good answer ends a streak of own failures (nothing to write when there was none)."""
    return {"failure_streak": 0} if account.failure_streak else {}


# The reason of a credential a 401 on inference refused (accounts.recheck asks again later).
REJECTED_BY_UPSTREAM = "credential rejected by the upstream (HTTP 401)"


def credential_rejected(reason: str) -> Fields:
    """The credential itself is dead: only new credentials bring the account back."""
    return {"reauth_reason": reason[:200]}


def new_credentials() -> Fields:
    """New credentials start from a clean slate (login again, a pasted key, a refresh)."""
    return dict(_CREDENTIAL_STATE)


def rate_limited(until: datetime) -> Fields:
    """The whole account hit a limit: benched until the reset Anthropic gave."""
    return {"rate_limited_until": until}


# The claim of a family's cap from a 429 that no account-wide window explains.
MODEL_RATE_LIMIT = "model_rate_limit"


def family_cap(*, until: datetime, claim: str) -> dict[str, str]:
    """A per-model cap's entry in `model_limits`: only its family is benched."""
    return {"until": until.isoformat(), "claim": claim}


def with_family_caps(
    caps: dict[str, Any], added: dict[str, dict[str, str]], now: datetime
) -> dict[str, Any]:
    """`caps` with `added` on top (they win per family); expired entries are dropped."""
    return {f: v for f, v in caps.items() if _until(v) > now} | added


def cleared() -> Fields:
    """The admin's "clear rate limit and cooldown": every limit and cooldown lifted, and the
    last answer's status with them (a "rejected" shown after the clear looked as if it failed).
    """
    return {
        "rate_limited_until": None,
        "rate_limit_status": None,
        "rate_limit_reset": None,
        "model_limits": {},
        "cooldown_until": None,
        "cooldown_reason": None,
        "failure_streak": 0,
        "limits_cleared_at": datetime.now(UTC),
    }


# What a clear lifts: a worker that noted any of them before a clear it did not see
# writes none of them after it (accounts.pool).
LIMIT_FIELDS = frozenset(cleared()) - {"limits_cleared_at"}


def family_blocked_until(
    account: HealthFields, family: str | None, now: datetime
) -> datetime | None:
    """When the account can serve `family` again, if a per-model cap holds it now."""
    if family is None or not account.model_limits:
        return None
    entry = account.model_limits.get(family)
    if entry is None:
        return None
    until = _until(entry)
    return until if until > now else None


def active_family_limits(account: HealthFields, now: datetime) -> dict[str, datetime]:
    """{family: until} of the per-model caps holding the account now."""
    return {f: _until(v) for f, v in account.model_limits.items() if _until(v) > now}


def family_limits_json(account: HealthFields, now: datetime) -> list[dict[str, str]]:
    """The per-model caps holding the account now, for the API and the pages."""
    return [
        {
            "family": family,
            "claim": account.model_limits[family].get("claim", ""),
            "until": until.isoformat(),
        }
        for family, until in sorted(active_family_limits(account, now).items())
    ]


_FAMILY = re.compile(r"(fable|opus|sonnet|haiku)", re.IGNORECASE)
_CLAIM_FAMILY = re.compile(r"^seven_day_(?!oauth|oi)([a-z]+)$")


def model_family(model: str | None) -> str | None:
    """'opus' for 'claude-opus-4-1-20250805', None for a model of no known family."""
    match = _FAMILY.search(model) if model else None
    return match.group(1).lower() if match else None


def claim_family(claim: str | None) -> str | None:
    """The family a per-model weekly claim binds ('seven_day_opus' → 'opus'), else None."""
    match = _CLAIM_FAMILY.match(claim) if claim else None
    return match.group(1) if match else None


def _until(entry: Any) -> datetime:
    try:
        return datetime.fromisoformat(entry["until"])
    except (TypeError, KeyError, ValueError):
        return _NEVER


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
