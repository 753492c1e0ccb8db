"""ASGI entry point: /v1/ goes to the proxy's lean handler, /health to its own, the rest to
Django and Channels."""

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccflare_site.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from accounts import background as accounts_background  # noqa: E402
from ccflare_site import answer_deadline, health, routing, tuning, workers  # noqa: E402
from ccflare_site.websocket_origin import SameOriginValidator  # noqa: E402
from proxy import background as proxy_background  # noqa: E402
from proxy import handler, replies  # noqa: E402

# Django's handler sends any Mapping; the proxy's handler sends dicts.
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


async def http_app(scope: dict, receive: handler.Receive, send: Send) -> None:
    path = scope["path"]
    if path.startswith("/v1/"):
        return await handler.application(scope, receive, send)
    if path == health.PATH:
        return await health.app(scope, receive, send)
    if path == "/v1" or (path.startswith("//") and path.lstrip("/").startswith("v1/")):
        return await _misplaced_api_path(scope, send)
    return await answer_deadline.serve(django_app, scope, receive, send)


async def _misplaced_api_path(scope: dict, send: Send) -> None:
    """Anthropic's 404, saying what to fix: a base URL ending in a slash asks for //v1/."""
    path = scope["path"]
    shown = path if len(path) <= 200 else path[:200] + "…"
    message = (
        f"Not found: {shown}. This server answers Anthropic's API under /v1/: set the "
        "client's base URL (ANTHROPIC_BASE_URL) to its address alone, with no path and no "
        f"trailing slash, e.g. {_own_address(scope)}"
    )
    await replies.send_error(send, status=404, error_type="not_found_error", message=message)


def _own_address(scope: dict) -> str:
    """This server's address as the client reached it (the socket's, not the Host header)."""
    server = scope.get("server")
    if not server or server[1] is None:
        return "http://127.0.0.1:8080"
    host = f"[{server[0]}]" if ":" in str(server[0]) else server[0]
    return f"{scope.get('scheme', 'http')}://{host}:{server[1]}"


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": SameOriginValidator(
            AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(routing.websocket_urlpatterns))
            )
        ),
    }
)


_started: set[asyncio.Task] = set()  # the loop keeps only weak references to its tasks


def _serving() -> None:
    """Once daphne runs, before any request: the accounts' checks start, and the accounts
    and client keys are read (other servers: at the first /v1/ request)."""
    accounts_background.ensure_started()
    task = asyncio.ensure_future(proxy_background.read_ahead())
    _started.add(task)
    task.add_done_callback(_started.discard)


workers.follow_supervisor()
tuning.tune()
tuning.when_serving(_serving)
