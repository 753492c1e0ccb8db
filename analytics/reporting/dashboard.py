"""Read-side data of the dashboard pages: account cards with health and windows, page bootstraps.

Each page is rendered with the data it shows first embedded (no fetch before the
first paint); the browser then follows the websocket and calls /api/ for changes.
The numbers come from the same functions as the API (`analytics.reporting.queries`,
`analytics.reporting.report`), so the page and /api/ never disagree.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from access.models import ClientKey
from accounts import forecast, health, selection, usage_reply
from accounts.models import Account, Health, HealthState
from analytics.models import Request
from analytics.operations import runtime
from analytics.reporting import aggregates, queries, report, report_cache
from lib import conversation

# How many requests the Requests page loads, and the Overview's live feed shows.
REQUESTS_PAGE_SIZE = 200
ACTIVITY_SIZE = 8
DEFAULT_RANGE = "24h"


@dataclass(frozen=True, slots=True)
class Window:
    """One rate-limit window of an account: how much is used and when it resets."""

    label: str
    percent: int | None  # 0-100, None when the upstream never reported it
    resets_at: datetime | None

    @property
    def level(self) -> str:
        """'ok', 'warn' or 'full', for the bar's colour."""
        if self.percent is None or self.percent < 75:
            return "ok"
        return "warn" if self.percent < 100 else "full"


@dataclass(frozen=True, slots=True)
class FamilyLimit:
    """A per-model weekly cap: one model family waits, the account serves the others."""

    family: str
    claim: str
    until: datetime

    @property
    def label(self) -> str:
        return self.family.capitalize()


@dataclass(frozen=True, slots=True)
class AccountCard:
    account: Account
    health: Health
    holds_session: bool
    # 5-hour, 7-day, then the per-model weekly windows the usage endpoint reported.
    windows: tuple[Window, ...]
    token_status: str
    family_limits: tuple[FamilyLimit, ...]
    # When the 5-hour window fills at the recent pace (accounts.forecast); None: not at it.
    five_hour_full_at: datetime | None = None

    @property
    def state(self) -> str:
        return self.health.state.value

    @property
    def is_paused(self) -> bool:
        return self.health.state == HealthState.PAUSED


def account_cards(*, now: datetime) -> list[AccountCard]:
    """Every account in routing order, with its health, windows and session holder."""
    accounts = selection.routing_order(list(Account.objects.all()))
    duration = timedelta(milliseconds=settings.SESSION_DURATION_MS)
    holder = selection.session_holder(accounts, now=now, duration=duration)
    return [_card(account, now=now, holder=holder) for account in accounts]


def _card(account: Account, *, now: datetime, holder: Account | None) -> AccountCard:
    windows = (
        Window("5-hour", _percent(account.five_hour_utilization), account.five_hour_reset),
        Window("7-day", _percent(account.seven_day_utilization), account.seven_day_reset),
        *_model_windows(account),
    )
    return AccountCard(
        account=account,
        health=account.health(now),
        holds_session=holder is not None and holder.pk == account.pk,
        windows=windows,
        token_status=account.token_status(now),
        family_limits=_family_limits(account, now=now),
        five_hour_full_at=forecast.account_full_at(account, now=now),
    )


def _family_limits(account: Account, *, now: datetime) -> tuple[FamilyLimit, ...]:
    """The caps holding a model family now, soonest lifted first; expired entries drop out."""
    active = health.active_family_limits(account, now)
    limits = (
        FamilyLimit(family, account.model_limits[family].get("claim", ""), until)
        for family, until in active.items()
    )
    return tuple(sorted(limits, key=lambda limit: (limit.until, limit.family)))


def _model_windows(account: Account) -> list[Window]:
    """'Opus weekly' and the like, from the last usage check (accounts.usage_check)."""
    return [
        Window(f"{family.capitalize()} weekly", _percent(window.utilization), window.resets_at)
        for family, window in usage_reply.stored_models(account.model_windows).items()
    ]


def _percent(utilization: float | None) -> int | None:
    return None if utilization is None else round(utilization * 100)


def account_names() -> dict[str, str]:
    """Account id -> name, for live rows that carry only the id."""
    return {str(pk): name for pk, name in Account.objects.values_list("pk", "name")}


def known_models() -> list[str]:
    """Every model seen in the history, most used first (the analytics filter's choices)."""
    return [model for model, _ in aggregates.model_counts(Request.objects.all(), limit=50)]


def overview_data() -> dict:
    """What the Overview shows first: the report for the default range, errors, activity."""
    return {
        "range": DEFAULT_RANGE,
        "report": report_cache.build(report.Filters(range=DEFAULT_RANGE)),
        "recentErrors": queries.recent_errors(Request.objects.all(), limit=5),
        "activity": queries.recent_requests(limit=ACTIVITY_SIZE),
        "accounts": account_names(),
    }


def retention() -> dict:
    return {
        "payloadDays": runtime.retention_days("data_retention_days"),
        "requestDays": runtime.retention_days("request_retention_days"),
        "fromEnv": sorted(settings.RUNTIME_SETTINGS_FROM_ENV),
    }


def analytics_data() -> dict:
    return {
        "range": DEFAULT_RANGE,
        "report": report_cache.build(report.Filters(range=DEFAULT_RANGE)),
        "accountChoices": [*account_names().values(), aggregates.NO_ACCOUNT],
        "modelChoices": known_models(),
    }


def key_names() -> dict[str, str]:
    """Client key id -> name (revoked keys too: their requests stay in the history)."""
    return {str(pk): name for pk, name in ClientKey.objects.values_list("pk", "name")}


def requests_data() -> dict:
    return {
        "requests": queries.recent_requests(limit=REQUESTS_PAGE_SIZE),
        "accounts": account_names(),
        "keys": key_names(),
        "limit": REQUESTS_PAGE_SIZE,
    }


def request_view(detail: dict) -> dict:
    """One request (queries.request_detail) with its bodies decoded and the conversation built."""
    payload = detail.get("payload") or {}
    sent = payload.get("request") or {}
    answered = payload.get("response") or {}
    request_body = conversation.decode_body(sent.get("body"))
    response_body = conversation.decode_body(answered.get("body"))
    return {
        **detail,
        "has_payload": bool(payload) and "error" not in payload,
        "meta": payload.get("meta") or {},
        "request_headers": sorted((sent.get("headers") or {}).items()),
        "response_headers": sorted((answered.get("headers") or {}).items()),
        "request_body": conversation.pretty(request_body),
        "response_body": conversation.pretty(response_body),
        "messages": conversation.build(request_body, response_body),
        "token_rows": _token_rows(detail),
    }


def _token_rows(detail: dict) -> list[tuple[str, int]]:
    names = [
        ("Input", "inputTokens"),
        ("Cache read", "cacheReadInputTokens"),
        ("Cache write", "cacheCreationInputTokens"),
        ("Output", "outputTokens"),
        ("Total", "totalTokens"),
    ]
    return [(label, detail.get(key) or 0) for label, key in names]
