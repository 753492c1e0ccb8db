"""/api/stats: the headline numbers over the whole history, and resetting them."""

from django.http import HttpRequest
from ninja import Query, Router

from analytics.operations import maintenance
from analytics.reporting import report_cache
from analytics.schemas import StatsQuery, split_list

router = Router(tags=["stats"])


@router.get("", operation_id="analytics_api_get_stats")
def get_stats(request: HttpRequest, params: Query[StatsQuery]) -> dict:
    return report_cache.stats(split_list(params.clientKey))


@router.post("/reset", operation_id="analytics_api_reset_stats")
def reset_stats(request: HttpRequest) -> dict:
    maintenance.reset_stats()
    return {"success": True, "message": "Statistics reset successfully"}
