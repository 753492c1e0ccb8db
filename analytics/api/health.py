"""GET /health (open: is the pool able to serve) and GET /metrics (Prometheus), at the root."""

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from accounts import selection
from accounts.models import Account
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


@router.get("/metrics", tags=["metrics"], operation_id="analytics_api_prometheus_metrics")
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format (counters summed over the server's workers; account gauges from
    the database)."""
    return HttpResponse(
        generate_latest(metrics.scrape_registry()), content_type=CONTENT_TYPE_LATEST
    )
