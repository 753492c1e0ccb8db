"""GET /health (open: is the pool able to serve) and GET /metrics (Prometheus), at the root."""

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from analytics.operations import health as health_report
from analytics.operations import metrics

router = Router()


@router.get(
    "/health",
    auth=None,
    tags=["health"],
    response={200: dict, 503: dict},
    operation_id="analytics_api_health",
)
async def health(request: HttpRequest) -> Status:
    """Open: liveness plus pool state (how many accounts are usable, and why the others are not).

    503 when accounts exist and none can serve, so a monitor can alert; 200 when one
    can, and with no accounts at all (requests then pass through). The server answers
    it ahead of Django (ccflare_site/health.py); this route documents it and serves
    Django's own test client.
    """
    status, body = await health_report.report()
    return Status(status, body)


@router.get("/metrics", tags=["metrics"], operation_id="analytics_api_prometheus_metrics")
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format (counters summed over the server's workers; account gauges from
    the database)."""
    return HttpResponse(
        generate_latest(metrics.scrape_registry()), content_type=CONTENT_TYPE_LATEST
    )
