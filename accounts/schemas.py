"""Bodies of the accounts and OAuth login API, and the JSON shape of one account (docs/api.md)."""

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

from django.conf import settings
from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator, StrictInt, model_validator

from accounts import forecast, selection, usage_reply, validation
from accounts import health as accounts_health
from accounts.models import Account


def _not_a_bool(value: Any) -> Any:
    # In lax mode a JSON `true` equals 1, and was taken as tier 1.
    if isinstance(value, bool):
        raise ValueError("Tier must be one of 1, 5, 20")
    return value


Tier = Annotated[Literal[1, 5, 20], BeforeValidator(_not_a_bool)]
# The rules are accounts.validation's, shared with the admin and the commands;
# the lengths are repeated for the OpenAPI schema.
Name = Annotated[
    str,
    Field(min_length=1, max_length=validation.NAME_MAX_LENGTH),
    AfterValidator(validation.pydantic_check(validation.clean_name)),
]


def _bounds(length: tuple[int, int]) -> Any:
    """A credential's length bounds, for the OpenAPI schema (its rule checks them too)."""
    shortest, longest = length
    return Field(json_schema_extra={"minLength": shortest, "maxLength": longest})


def _rule(clean: Callable[[str], str]) -> AfterValidator:
    return AfterValidator(validation.pydantic_check(clean))


# Credential fields: checked by their rule, their length bounds shown in the OpenAPI schema.
ApiKey = Annotated[str, _bounds(validation.API_KEY_LENGTH), _rule(validation.clean_api_key)]
AccessToken = Annotated[
    str,
    _bounds(validation.TOKEN_LENGTH),
    _rule(partial(validation.clean_token, label="Access token")),
]
RefreshToken = Annotated[
    str,
    _bounds(validation.TOKEN_LENGTH),
    _rule(partial(validation.clean_token, label="Refresh token")),
]

Priority = Annotated[StrictInt, Field(ge=-validation.MAX_PRIORITY, le=validation.MAX_PRIORITY)]
# Epoch milliseconds up to the year 9999, the last a datetime can hold.
EpochMs = Annotated[StrictInt, Field(ge=0, le=253_402_300_799_999)]


class AccountIn(Schema):
    """ccflare's manual add (OAuth tokens from a login done elsewhere), or an API key."""

    name: Name
    accessToken: AccessToken | None = None
    refreshToken: RefreshToken | None = None
    # Extension: a Console API key instead of OAuth tokens.
    apiKey: ApiKey | None = None
    provider: Literal["anthropic"] = "anthropic"
    tier: Tier = 1
    # Optional extensions: when the access token expires (epoch ms), and the priority.
    expiresAt: EpochMs | None = None
    priority: Priority = 0

    @model_validator(mode="after")
    def one_kind_of_credential(self) -> "AccountIn":
        tokens = self.accessToken is not None and self.refreshToken is not None
        if tokens == (self.apiKey is not None):
            raise ValueError("give either apiKey, or accessToken and refreshToken")
        return self


class ConfirmIn(Schema):
    confirm: str


class TierIn(Schema):
    tier: Tier


class RenameIn(Schema):
    name: Name


class PriorityIn(Schema):
    priority: Priority


# The OAuth login (accounts/oauth_api.py); the class names are the OpenAPI component names.
class InitIn(Schema):
    # Start a login for this name; an existing name is logged in again.
    name: Name
    mode: str = "max"
    # None: 1 for a new account, unchanged for an existing one.
    tier: StrictInt | None = None
    priority: Priority | None = None


class InitOut(Schema):
    success: bool
    authUrl: str
    sessionId: str
    step: str
    # Extension: true when finishing will replace an existing account's credentials.
    reauth: bool


class CallbackIn(Schema):
    # The pasted `code#state` of the login that init started.
    sessionId: str
    code: str


class CallbackOut(Schema):
    success: bool
    message: str
    mode: str
    tier: int


def account_json(account: Account, *, now: datetime) -> dict:
    """One account as /api/accounts lists it."""
    return {
        "id": str(account.pk),
        "name": account.name,
        "provider": account.provider,
        "kind": account.kind,
        "requestCount": account.request_count,
        "totalRequests": account.total_requests,
        "lastUsed": _iso(account.last_used),
        "created": _iso(account.created_at),
        "tier": account.tier,
        "priority": account.priority,
        "paused": account.paused,
        "tokenStatus": token_status(account, now=now),
        "tokenExpiresAt": _iso(account.expires_at),
        "rateLimitStatus": rate_limit_status(account, now=now),
        "rateLimitReset": _iso(account.rate_limit_reset),
        "rateLimitRemaining": account.rate_limit_remaining,
        "rateLimitedUntil": _iso(account.rate_limited_until),
        "fiveHourUtilization": account.five_hour_utilization,
        "sevenDayUtilization": account.seven_day_utilization,
        # Extensions: the windows' resets, per-model weekly use from the usage endpoint,
        # and when the 5-hour window fills at the recent pace (null: not at this pace).
        "fiveHourReset": _iso(account.five_hour_reset),
        "sevenDayReset": _iso(account.seven_day_reset),
        "fiveHourFullAt": _iso(forecast.account_full_at(account, now=now)),
        "modelWindows": model_windows_json(account),
        "usageCheckedAt": _iso(account.usage_checked_at),
        "sessionInfo": session_info(account, now=now),
        "health": health_json(account, now=now),
        # Per-model weekly caps: the account serves every other model family meanwhile.
        "modelLimits": accounts_health.family_limits_json(account, now),
        "holdsSession": holds_live_session(account, now=now),
    }


def model_windows_json(account: Account) -> list[dict]:
    """[{family, utilization 0..1, resetsAt}] from the last usage check, by family."""
    return [
        {"family": family, "utilization": window.utilization, "resetsAt": _iso(window.resets_at)}
        for family, window in usage_reply.stored_models(account.model_windows).items()
    ]


def health_json(account: Account, *, now: datetime) -> dict:
    """Whether the account serves now, and if not why and until when (None: until someone acts)."""
    health = account.health(now)
    return {"state": health.state.value, "reason": health.reason, "until": _iso(health.until)}


def token_status(account: Account, *, now: datetime) -> str:
    """API keys never expire; an OAuth token is valid until its expiry (unknown = expired)."""
    if account.kind != Account.Kind.OAUTH:
        return "valid"
    return "valid" if account.expires_at and account.expires_at > now else "expired"


def rate_limit_status(account: Account, *, now: datetime) -> str:
    """As ccflare (docs/api.md): the stored status (minutes to reset), else the block, else OK.
    A status that came with one model family's claim says so ("rejected, opus only (4m)").

    Unlike ccflare, a stored status whose reset has passed is no longer shown: it spoke of
    a window that has ended, and a "rejected" stayed on a serving account until its next
    answer.
    """
    status, reset = account.rate_limit_status, account.rate_limit_reset
    family = accounts_health.claim_family(account.rate_limit_claim)
    if status and family is not None and not account.is_rate_limited(now):
        # A refusal of one model family's weekly limit: the account serves the others.
        status = f"{status}, {family} only"
    if status:
        if reset is None:
            return status
        if reset > now:
            return f"{status} ({_minutes(reset, now)}m)"
    if account.rate_limited_until is not None and account.is_rate_limited(now):
        return f"Rate limited ({_minutes(account.rate_limited_until, now)}m)"
    return "OK"


def session_info(account: Account, *, now: datetime) -> str:
    if holds_live_session(account, now=now):
        return f"Active: {account.session_request_count} reqs"
    return "-"


def holds_live_session(account: Account, *, now: datetime) -> bool:
    """Whether the account holds a session that has not run out. ccflare's sessionInfo
    hard-coded 5 h; the length is a setting here. The stored flag alone stays set after
    the session runs out, until another takes it: /api/accounts then showed two holders."""
    duration = timedelta(milliseconds=settings.SESSION_DURATION_MS)
    return account.holds_session and selection.session_live(account, now=now, duration=duration)


def _minutes(until: datetime, now: datetime) -> int:
    return math.ceil((until - now).total_seconds() / 60)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
