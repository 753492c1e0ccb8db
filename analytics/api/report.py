"""/api/analytics: the filtered report (analytics.reporting.report builds it)."""

from django.http import HttpRequest
from ninja import Query, Router

from analytics.reporting import report, report_cache
from analytics.schemas import AnalyticsQuery, split_list

router = Router(tags=["analytics"])


@router.get("", operation_id="analytics_api_get_analytics")
def get_analytics(request: HttpRequest, params: Query[AnalyticsQuery]) -> dict:
    filters = report.Filters(
        range=params.range,
        accounts=split_list(params.accounts),
        models=split_list(params.models),
        status=params.status,
        cumulative=params.mode == "cumulative",
        model_breakdown=params.modelBreakdown,
        client_keys=split_list(params.clientKey),
    )
    return report_cache.build(filters)
