"""The dashboard websocket's origin check: the page must be this server's own, port included.

Channels' AllowedHostsOriginValidator compares only the origin's host name with
ALLOWED_HOSTS, so a page on another port of the same name (http://127.0.0.1:3000,
any local dev server) opened the feed with the user's staff session: cookies do not
isolate ports, and a same-site page sends them. Django's CSRF check, which guards every
other state the browser reaches, wants the exact origin; so does this one.
"""

from typing import Any

from channels.security.websocket import WebsocketDenier

from proxy import guard


class SameOriginValidator:
    """Refuse a handshake whose Origin is not the Host it was sent to (a browser on another
    site or port); a client that sends no Origin (not a browser) is let through."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        origin = host = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"host":
                host = value
        if origin is not None and (host is None or not guard.same_origin(origin, host)):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
