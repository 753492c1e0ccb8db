"""Query parameters and bodies of the analytics, config, maintenance and logs routes.

Every bound is checked here, so a bad value is a 400 naming the field instead of
ccflare's silent fallback to a default.
"""

from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StrictInt

from analytics.models import Request


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
    limit: float | str


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


def request_json(request: Request) -> dict:
    """A finished request in the shape of ccflare's request list item (docs/api.md).

    A failed request that used no tokens has no token fields, as in ccflare (whose
    clients print a stray 0 for a zero they are given).
    """
    item = {
        "id": str(request.id),
        "timestamp": request.timestamp.isoformat(),
        "method": request.method,
        "path": request.path,
        "accountUsed": str(request.account_id) if request.account_id else None,
        "statusCode": request.status_code,
        "success": request.success,
        "errorMessage": request.error_message,
        "responseTimeMs": request.response_time_ms,
        "timeToFirstTokenMs": request.time_to_first_token_ms,
        "failoverAttempts": request.failover_attempts,
        "model": request.model,
        **_token_fields(request),
        "costUsd": float(request.cost_usd) if request.cost_usd is not None else None,
        "unpriced": request.unpriced,
        "tokensPerSecond": request.output_tokens_per_second,
        "terminalState": request.terminal_state,
        "agentUsed": request.agent_used,
        # The client key's id (lists add its name as `clientKey`); live rows carry only this.
        "clientKeyId": request.client_key_id,
    }
    if request.original_model:
        item["originalModel"] = request.original_model
    return item


def _token_fields(request: Request) -> dict:
    if not request.success and not request.total_tokens:
        return {}
    return {
        "promptTokens": request.prompt_tokens,
        "completionTokens": request.completion_tokens,
        "totalTokens": request.total_tokens,
        "inputTokens": request.input_tokens,
        "cacheReadInputTokens": request.cache_read_input_tokens,
        "cacheCreationInputTokens": request.cache_creation_input_tokens,
        "outputTokens": request.output_tokens,
    }
