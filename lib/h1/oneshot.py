"""One request on a connection of its own, read whole: for the rare calls outside the proxy.

The OAuth token endpoint, the usage poll and webhooks are a request now and then, so
each gets a pool of its own that is closed with its answer; the proxy's hot path keeps
its long-lived pool (proxy/upstream.py). One client for all of them keeps a second HTTP
library (httpx: 6 MB resident with what it imports) out of the server.
"""

import asyncio
import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from lib.h1.errors import MalformedResponse
from lib.h1.pool import Headers, Pool

# The answers fetched here (tokens, usage, a webhook's reply) are a few KB: a larger one
# is refused rather than held whole (a 200 MB usage reply took 600 MB and the loop).
MAX_REPLY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Headers
    body: bytes

    @property
    def reason(self) -> str:
        """The standard phrase of the status ("Not Found"), or "" for an unknown one."""
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return ""

    def json(self) -> Any:
        """The body as JSON; raises ValueError (or RecursionError, too deeply nested)."""
        return json.loads(self.body)


async def fetch(
    method: str,
    url: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    within: float,
) -> Reply:
    """Send one request and read its whole answer within `within` seconds in all.

    Raises lib.h1's UpstreamError (the network, a malformed answer) or TimeoutError, and
    ValueError for a URL it cannot use. Credentials in the URL (https://user:pass@host/)
    go out as Basic authorization, as curl and browsers send them.
    """
    url, authorization = _split_credentials(url)
    pool = Pool(connect_timeout=within, read_timeout=within)
    try:
        async with asyncio.timeout(within):
            response = await pool.request(method, url, [*authorization, *headers], body)
            data, whole = await response.read_up_to(MAX_REPLY_BYTES)
            if not whole:
                raise MalformedResponse(f"answer over {MAX_REPLY_BYTES} bytes")
    finally:
        pool.close()
    return Reply(response.status, response.headers, data)


def _split_credentials(url: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, []
    user = unquote(parts.username or "")
    secret = unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return urlunsplit(bare), [("Authorization", f"Basic {token}")]


def json_body(value: Any) -> tuple[tuple[str, str], bytes]:
    """A Content-Type header and the encoded body for a JSON request."""
    return ("Content-Type", "application/json"), json.dumps(value).encode()
