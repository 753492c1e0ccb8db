"""The Content-Security-Policy of the pages people open: the dashboard and the admin.

They show what clients, upstreams and agent files chose (paths, model names, error
messages), always as text; the policy is the second line of defence: should one ever
reach the markup unescaped, no script but this server's files could run, nor send
anything anywhere but here. Their scripts are files under /static/ for that reason.
"""

from django.http import HttpRequest, HttpResponseBase

from ccflare_site.middleware import response_middleware

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


def with_policy(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """`response`, with the policy when it answers a dashboard or admin page."""
    if request.path.startswith(PAGES):
        response.headers.setdefault("Content-Security-Policy", POLICY)
    return response


content_security_policy = response_middleware(with_policy)
