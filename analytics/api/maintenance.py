"""/api/maintenance: apply the retention now, compact the database."""

from django.http import HttpRequest
from ninja import Router

from analytics.operations import maintenance

router = Router(tags=["maintenance"])


@router.post("/cleanup", operation_id="analytics_api_cleanup")
def cleanup(request: HttpRequest) -> dict:
    result = maintenance.cleanup()
    return {
        "removedRequests": result.removed_requests,
        "removedPayloads": result.removed_payloads,
        "cutoffIso": result.cutoff.isoformat(),
    }


@router.post("/compact", operation_id="analytics_api_compact")
def compact(request: HttpRequest) -> dict:
    maintenance.compact()
    return {"ok": True}
