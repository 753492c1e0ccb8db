"""/api/logs: the log file's recent lines, and the live log stream."""

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router

from analytics.live import streams
from analytics.operations import logs
from analytics.schemas import LogsQuery

router = Router(tags=["logs"])


@router.get("/history", operation_id="analytics_api_log_history")
def log_history(request: HttpRequest, params: Query[LogsQuery]) -> list[dict]:
    return logs.history(settings.LOG_FILE, lines=params.lines)


@router.get("/stream", operation_id="analytics_api_stream_logs")
async def stream_logs(request: HttpRequest) -> StreamingHttpResponse:
    return streams.response(streams.log_frames(request))
