"""Every answer under /api/ is JSON: Django's own error pages there become `{"error": ...}`;
and a HEAD of an API route is answered as its GET (RFC 9110 §9.3.2; the server sends no body).

Ninja answers its routes' errors itself; what reaches a client as HTML otherwise
is what Django answers before or around them: a path no route matches (404, also
one with an encoded slash or newline), a method a route does not take (405), a
CSRF failure of a plain Django view (403) and an unhandled exception (500, also
with DEBUG's technical page). Listed before CsrfViewMiddleware so it sees those.
"""

from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

from lib.api_errors import error_response

API_PREFIX = "/api/"

Handler = Callable[[HttpRequest], HttpResponseBase]
AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]
Transform = Callable[[HttpRequest, HttpResponseBase], HttpResponseBase]


def _unchanged(request: HttpRequest) -> None:
    pass


def response_middleware(
    transform: Transform, prepare: Callable[[HttpRequest], None] = _unchanged
) -> Callable[[Handler | AsyncHandler], Any]:
    """A middleware that passes each answer through `transform(request, response)`, and
    each request first through `prepare(request)`.

    Both flavours, so async views (/health, the SSE streams) never hop to a thread for it.
    """

    @sync_and_async_middleware
    def middleware_factory(get_response: Handler | AsyncHandler) -> Handler | AsyncHandler:
        if iscoroutinefunction(get_response):

            async def async_middleware(request: HttpRequest) -> HttpResponseBase:
                prepare(request)
                return transform(request, await get_response(request))

            return async_middleware

        # Not a coroutine function, so a plain handler (which the checker cannot infer).
        sync_response = cast(Handler, get_response)

        def middleware(request: HttpRequest) -> HttpResponseBase:
            prepare(request)
            return transform(request, sync_response(request))

        return middleware

    return middleware_factory


# The API's routes outside /api/ (/health, answered ahead of Django, has its own).
API_ROOT_PATHS = frozenset({API_PREFIX[:-1], "/metrics"})


def is_api_path(path: str) -> bool:
    """Whether `path` is the API's: its errors are `{"error": ...}` (also http_channel's)."""
    return path.startswith(API_PREFIX) or path in API_ROOT_PATHS


def head_as_get(request: HttpRequest) -> None:
    """A HEAD of an API path is routed as its GET: the routes take GET alone (a 405 for
    HEAD), and Twisted sends a HEAD's answer without its body."""
    if request.method == "HEAD" and is_api_path(request.path):
        request.method = "GET"


def as_json_if_needed(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """`response`, or for a non-JSON error under /api/ the same status as an API error.

    The answer to a HEAD of a live stream is its head alone: the stream is never started.
    """
    if not is_api_path(request.path):
        return response
    if request.META.get("REQUEST_METHOD") == "HEAD" and response.streaming:
        return HttpResponse(status=response.status_code, headers=dict(response.items()))
    if response.status_code < 400:
        return response
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    replacement = error_response(response.status_code, _message(request, response))
    for header in ("Allow", "WWW-Authenticate", "Retry-After"):
        if header in response:
            replacement[header] = response[header]
    return replacement


def _message(request: HttpRequest, response: HttpResponseBase) -> str:
    if response.status_code == 404:
        return f"Unknown API path: {request.path}"
    if response.status_code == 405:
        return f"Method {request.method} is not allowed here; allowed: {response.get('Allow', '')}"
    return response.reason_phrase


api_json_errors = response_middleware(as_json_if_needed, prepare=head_as_get)
