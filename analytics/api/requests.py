"""/api/requests: the recorded requests, their captured payloads, one request, the live stream."""

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router

from analytics.live import streams
from analytics.reporting import queries
from analytics.schemas import DetailQuery, RequestsQuery, split_list
from lib.api_errors import ApiError

router = Router(tags=["requests"])


@router.get("", operation_id="analytics_api_list_requests")
def list_requests(request: HttpRequest, params: Query[RequestsQuery]) -> list[dict]:
    return queries.recent_requests(limit=params.limit, client_keys=split_list(params.clientKey))


# /detail and /stream come before /{request_id}, which would take them as ids.
@router.get("/detail", operation_id="analytics_api_list_request_payloads")
def list_request_payloads(request: HttpRequest, params: Query[DetailQuery]) -> list[dict]:
    return queries.recent_payloads(limit=params.limit)


@router.get("/stream", operation_id="analytics_api_stream_requests")
async def stream_requests(request: HttpRequest) -> StreamingHttpResponse:
    """SSE: `start` when upstream headers arrive, `summary` and `payload` when a request ends."""
    return streams.response(streams.request_frames(request))


@router.get("/{request_id}", operation_id="analytics_api_get_request")
def get_request(request: HttpRequest, request_id: str) -> dict:
    """One request: its summary, routing trace and captured payload."""
    detail = queries.request_detail(request_id)
    if detail is None:
        raise ApiError(404, f"Request '{request_id}' not found")
    return detail
