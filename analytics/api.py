"""HTTP routes of the analytics app: health, stats, requests, analytics, config, maintenance, logs.

Handlers are thin: they validate through `analytics.schemas`, call the query,
report, runtime-settings or maintenance module, and return ccflare's JSON shapes
(docs/api.md). Everything but /health needs a staff session or an API token (the
API's default auth).
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router, Status
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from accounts import selection
from accounts.models import Account
from analytics.live import streams
from analytics.operations import logs, maintenance, runtime
from analytics.reporting import queries, report
from analytics.schemas import (
    AnalyticsQuery,
    DetailQuery,
    LogsQuery,
    RequestsQuery,
    RetentionIn,
    StrategyIn,
    split_list,
)
from lib.api_errors import ApiError

router = Router(tags=["analytics"])

# The only strategy (docs/compatibility.md): the three strategy endpoints keep ccflare's
# shapes for its clients, but there is nothing to switch.
STRATEGIES = ["session"]
# ccflare's default agent model, kept in /api/config for tools that read it.
DEFAULT_AGENT_MODEL = "claude-sonnet-4-20250514"


@router.get("/health", auth=None, tags=["health"], response={200: dict, 503: dict})
async def health(request: HttpRequest) -> Status:
    """Open: liveness plus pool state (how many accounts are usable, and why the others are not).

    503 when accounts exist and none can serve, so a monitor can alert; 200 when one
    can, and with no accounts at all (requests then pass through).
    """
    now = timezone.now()
    accounts = [a async for a in Account.objects.all()]
    unusable = [
        {"name": a.name, "reason": reason}
        for a in selection.routing_order(accounts)
        if (reason := selection.skip_reason(a, now=now)) is not None
    ]
    serving = not accounts or len(unusable) < len(accounts)
    body = {
        "status": "ok" if serving else "unavailable",
        "accounts": len(accounts),
        "usableAccounts": len(accounts) - len(unusable),
        "unusableAccounts": unusable,
        "timestamp": now.isoformat(),
        "strategy": "session",
    }
    if not serving:
        body["reason"] = "No account can serve: " + "; ".join(
            f"{u['name']} {u['reason']}" for u in unusable
        )
    return Status(200 if serving else 503, body)


@router.get("/metrics", tags=["metrics"])
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format (this process's counters; account gauges from the database)."""
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


@router.get("/api/stats", tags=["stats"])
def get_stats(request: HttpRequest) -> dict:
    return queries.stats()


@router.post("/api/stats/reset", tags=["stats"])
def reset_stats(request: HttpRequest) -> dict:
    maintenance.reset_stats()
    return {"success": True, "message": "Statistics reset successfully"}


@router.get("/api/requests", tags=["requests"])
def list_requests(request: HttpRequest, params: Query[RequestsQuery]) -> list[dict]:
    return queries.recent_requests(limit=params.limit)


@router.get("/api/requests/detail", tags=["requests"])
def list_request_payloads(request: HttpRequest, params: Query[DetailQuery]) -> list[dict]:
    return queries.recent_payloads(limit=params.limit)


@router.get("/api/requests/stream", tags=["requests"])
async def stream_requests(request: HttpRequest) -> StreamingHttpResponse:
    """SSE: `start` when upstream headers arrive, `summary` and `payload` when a request ends."""
    return streams.response(streams.request_frames())


@router.get("/api/requests/{request_id}", tags=["requests"])
def get_request(request: HttpRequest, request_id: str) -> dict:
    """One request: its summary, routing trace and captured payload."""
    detail = queries.request_detail(request_id)
    if detail is None:
        raise ApiError(404, f"Request '{request_id}' not found")
    return detail


@router.get("/api/analytics", tags=["analytics"])
def get_analytics(request: HttpRequest, params: Query[AnalyticsQuery]) -> dict:
    filters = report.Filters(
        range=params.range,
        accounts=split_list(params.accounts),
        models=split_list(params.models),
        status=params.status,
        cumulative=params.mode == "cumulative",
        model_breakdown=params.modelBreakdown,
    )
    return report.build(filters)


@router.get("/api/config", tags=["config"])
def get_config(request: HttpRequest) -> dict:
    """The values in force now (ccflare reported a stale session length)."""
    return {
        "lb_strategy": STRATEGIES[0],
        "port": settings.PORT,
        "sessionDurationMs": settings.SESSION_DURATION_MS,
        "default_agent_model": DEFAULT_AGENT_MODEL,
    }


@router.get("/api/config/strategy", tags=["config"])
def get_strategy(request: HttpRequest) -> dict:
    return {"strategy": STRATEGIES[0]}


@router.post("/api/config/strategy", tags=["config"])
def set_strategy(request: HttpRequest, body: StrategyIn) -> dict:
    """Accepted for ccflare's clients; the session strategy is the only one, so nothing changes."""
    if body.strategy not in STRATEGIES:
        raise ApiError(
            400, f"Strategy must be one of: {', '.join(STRATEGIES)}", {"allowed": STRATEGIES}
        )
    return {"success": True, "strategy": body.strategy}


@router.get("/api/strategies", tags=["config"])
def list_strategies(request: HttpRequest) -> list[str]:
    return STRATEGIES


@router.get("/api/config/retention", tags=["config"])
def get_retention(request: HttpRequest) -> dict:
    return {
        "payloadDays": runtime.retention_days("data_retention_days"),
        "requestDays": runtime.retention_days("request_retention_days"),
    }


@router.post(
    "/api/config/retention",
    tags=["config"],
    response={204: None},
    openapi_extra={"responses": {409: {"description": "Set in the environment, which wins"}}},
)
def set_retention(request: HttpRequest, body: RetentionIn) -> Status:
    given = {"data_retention_days": body.payloadDays, "request_retention_days": body.requestDays}
    values = {key: value for key, value in given.items() if value is not None}
    if not values:
        raise ApiError(400, "No retention fields provided")
    runtime.set_retention_days(values)
    return Status(204, None)


@router.post("/api/maintenance/cleanup", tags=["maintenance"])
def cleanup(request: HttpRequest) -> dict:
    result = maintenance.cleanup()
    return {
        "removedRequests": result.removed_requests,
        "removedPayloads": result.removed_payloads,
        "cutoffIso": result.cutoff.isoformat(),
    }


@router.post("/api/maintenance/compact", tags=["maintenance"])
def compact(request: HttpRequest) -> dict:
    maintenance.compact()
    return {"ok": True}


@router.get("/api/logs/history", tags=["logs"])
def log_history(request: HttpRequest, params: Query[LogsQuery]) -> list[dict]:
    return logs.history(settings.LOG_FILE, lines=params.lines)


@router.get("/api/logs/stream", tags=["logs"])
async def stream_logs(request: HttpRequest) -> StreamingHttpResponse:
    return streams.response(streams.log_frames())
