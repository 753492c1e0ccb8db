"""Query parameters and bodies of the analytics, config, maintenance and logs routes.

Every bound is checked here, so a bad value is a 400 naming the field instead of
ccflare's silent fallback to a default.
"""

from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StrictFloat, StrictInt, StrictStr


class DetailQuery(Schema):
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


# A comma-separated list of account or model names (both printable ASCII). The
# bound keeps the whole URL, each character percent-encoded at worst, within the
# 16 KiB request line that daphne (Twisted) reads: past it the server drops the
# connection without an answer, before any of our code could refuse it.
NameList = Annotated[str, Field(max_length=2000, pattern=r"^[ -~]*$")]
# Comma-separated client key names (`no_key` for requests sent without one). Key names
# are any text without control characters; at 4 bytes each, percent-encoded, 1,000
# stay within that request line too.
KeyList = Annotated[str, Field(max_length=1000, pattern=r"^[^\x00-\x1f\x7f]*$")]


class RequestsQuery(Schema):
    limit: Annotated[int, Field(ge=1, le=1000)] = 50
    clientKey: KeyList | None = None


class AnalyticsQuery(Schema):
    range: Literal["1h", "6h", "24h", "7d", "30d"] = "24h"
    accounts: NameList | None = None
    models: NameList | None = None
    status: Literal["all", "success", "error"] = "all"
    mode: Literal["normal", "cumulative"] = "normal"
    modelBreakdown: bool = False
    clientKey: KeyList | None = None


class StatsQuery(Schema):
    clientKey: KeyList | None = None


class BudgetIn(Schema):
    metric: str  # checked by access.keyrules, which names the choices
    window: str
    # Strict: a JSON `true` was taken as a limit of 1.
    limit: StrictFloat | StrictStr


class ModelRulesIn(Schema):
    allowed: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)] = []
    denied: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)] = []


class StrategyIn(Schema):
    strategy: str


class RetentionIn(Schema):
    payloadDays: Annotated[StrictInt, Field(ge=1, le=365)] | None = None
    requestDays: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None


class LogsQuery(Schema):
    lines: Annotated[int, Field(ge=1, le=10_000)] = 1000


def split_list(value: str | None) -> list[str]:
    """`a, b,,c` -> ["a", "b", "c"]."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]
