"""/api/stats: the headline numbers over the whole history, and resetting them."""

from django.http import HttpRequest
from ninja import Router

from analytics.operations import maintenance
from analytics.reporting import queries

router = Router(tags=["stats"])


@router.get("", operation_id="analytics_api_get_stats")
def get_stats(request: HttpRequest) -> dict:
    return queries.stats()


@router.post("/reset", operation_id="analytics_api_reset_stats")
def reset_stats(request: HttpRequest) -> dict:
    maintenance.reset_stats()
    return {"success": True, "message": "Statistics reset successfully"}
