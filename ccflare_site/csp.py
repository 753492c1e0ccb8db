"""The Content-Security-Policy of the pages people open: the dashboard and the admin.

They show what clients, upstreams and agent files chose (paths, model names, error
messages), always as text; the policy is the second line of defence: should one ever
reach the markup unescaped, no script but this server's files could run, nor send
anything anywhere but here. Their scripts are files under /static/ for that reason.
"""

from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Style attributes: the usage meters' widths, the chart legends' swatches.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        # The live updates' websocket ('self' covers ws: on the same host and port).
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# /api/docs (Swagger UI) is left alone: it is ninja's page, with its own inline script.
PAGES = ("/dashboard/", "/admin/")

Handler = Callable[[HttpRequest], HttpResponseBase]
AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


@sync_and_async_middleware
def content_security_policy(get_response: Handler | AsyncHandler) -> Handler | AsyncHandler:
    # Both flavours, as ccflare_site.middleware: no request hops to a thread for it.
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            return with_policy(request, await get_response(request))

        return async_middleware

    sync_response = cast(Handler, get_response)

    def middleware(request: HttpRequest) -> HttpResponseBase:
        return with_policy(request, sync_response(request))

    return middleware


def with_policy(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """`response`, with the policy when it answers a dashboard or admin page."""
    if request.path.startswith(PAGES):
        response.headers.setdefault("Content-Security-Policy", POLICY)
    return response
