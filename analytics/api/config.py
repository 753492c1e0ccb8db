"""/api/config (the values in force, the strategy, retention) and /api/strategies.

Two routers because ccflare put the strategy list outside /api/config: `router`
is mounted at /api/config, `strategies_router` at /api/strategies.
"""

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status

from analytics.operations import runtime
from analytics.schemas import RetentionIn, StrategyIn
from lib.api_errors import ApiError

router = Router(tags=["config"])
strategies_router = Router(tags=["config"])

# The only strategy (docs/compatibility.md): the three strategy endpoints keep ccflare's
# shapes for its clients, but there is nothing to switch.
STRATEGIES = ["session"]


@router.get("", operation_id="analytics_api_get_config")
def get_config(request: HttpRequest) -> dict:
    """The values in force now (ccflare reported a stale session length)."""
    return {
        "lb_strategy": STRATEGIES[0],
        "port": settings.PORT,
        "sessionDurationMs": settings.SESSION_DURATION_MS,
        "default_agent_model": runtime.default_agent_model(),
    }


@router.get("/strategy", operation_id="analytics_api_get_strategy")
def get_strategy(request: HttpRequest) -> dict:
    return {"strategy": STRATEGIES[0]}


@router.post("/strategy", operation_id="analytics_api_set_strategy")
def set_strategy(request: HttpRequest, body: StrategyIn) -> dict:
    """Accepted for ccflare's clients; the session strategy is the only one, so nothing changes."""
    if body.strategy not in STRATEGIES:
        raise ApiError(
            400, f"Strategy must be one of: {', '.join(STRATEGIES)}", {"allowed": STRATEGIES}
        )
    return {"success": True, "strategy": body.strategy}


@strategies_router.get("", operation_id="analytics_api_list_strategies")
def list_strategies(request: HttpRequest) -> list[str]:
    return STRATEGIES


@router.get("/retention", operation_id="analytics_api_get_retention")
def get_retention(request: HttpRequest) -> dict:
    return {
        "payloadDays": runtime.retention_days("data_retention_days"),
        "requestDays": runtime.retention_days("request_retention_days"),
    }


@router.post(
    "/retention",
    response={204: None},
    openapi_extra={"responses": {409: {"description": "Set in the environment, which wins"}}},
    operation_id="analytics_api_set_retention",
)
def set_retention(request: HttpRequest, body: RetentionIn) -> Status:
    given = {"data_retention_days": body.payloadDays, "request_retention_days": body.requestDays}
    values = {key: value for key, value in given.items() if value is not None}
    if not values:
        raise ApiError(400, "No retention fields provided")
    runtime.set_retention_days(values)
    return Status(204, None)
