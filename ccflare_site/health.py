"""GET /health answered ahead of Django's request cycle, like /v1/.

Monitors poll it every few seconds, and answered here a process that only proxies never
loads Django's URLs and with them the API (django-ninja and pydantic, about 12 MB:
docs/performance.md). The answer is the API route's (analytics.operations.health), and
the Host header obeys ALLOWED_HOSTS as on every route.
"""

import json
import logging

from analytics.operations import health
from proxy import guard, replies

PATH = "/health"
# HEAD as GET, as every server must (RFC 9110 section 9.1): monitors that send it got 405.
# The server leaves out the body of an answer to HEAD.
_METHODS = frozenset({"GET", "HEAD"})
# Django's own logger for a refused Host, as the rest of the site logs it.
security_log = logging.getLogger("django.security.DisallowedHost")


async def app(scope: dict, receive: object, send: replies.Send) -> None:
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    if host is not None and not guard.host_allowed(host):
        security_log.warning("Invalid HTTP_HOST header: %r.", host.decode("latin-1"))
        await _answer(send, 400, {"error": "Invalid Host header"})
    elif scope["method"] not in _METHODS:
        await _answer(send, 405, {"error": "Method not allowed"}, ((b"allow", b"GET, HEAD"),))
    else:
        await _answer(send, *await health.report())


async def _answer(
    send: replies.Send, status: int, body: dict, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    # As Django's JsonResponse and its security middleware answered it.
    await replies.send_json(
        send,
        status=status,
        body=json.dumps(body).encode(),
        headers=((b"x-content-type-options", b"nosniff"), *extra),
        content_type=b"application/json; charset=utf-8",
    )
