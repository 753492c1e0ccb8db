"""A lean HTTP/1.1 client for the proxy's hot path: a keep-alive pool and its responses.

The proxy relays bytes, so the client does little: one write per request (head and body),
one parse of the answer's head, the body de-framed as it arrives. aiohttp's client measured
a quarter of the server's CPU for the same job (docs/performance.md).

    pool = Pool(connect_timeout=10, read_timeout=600)
    response = await pool.request("POST", "https://host/v1/messages", headers, body)
    body = await response.read()          # or: async for chunk in response.iter_chunks()
    response.release()                    # back to the pool if read to the end, else closed

- pool.py: the pool (per origin, newest idle first, 30 s idle limit), Response, Headers;
- protocol.py: one connection as an asyncio.Protocol, body framing, read timeout, flow control;
- head.py: parsing a response head; connect.py: DNS cache, TCP/TLS, connect timeout;
- errors.py: everything it raises derives from UpstreamError;
- oneshot.py: `fetch`, one request read whole, for the rare calls (OAuth, usage polls, webhooks).
"""

from lib.h1.errors import (
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    ConnectTimeout,
    HeadersTooLarge,
    MalformedResponse,
    OutOfResources,
    ReadTimeout,
    SlowFraming,
    SlowHead,
    UpstreamError,
)
from lib.h1.oneshot import Reply, fetch, json_body
from lib.h1.pool import Headers, Pool, Response

__all__ = [
    "ConnectFailed",
    "ConnectTimeout",
    "ConnectionLost",
    "ConnectionRefused",
    "Headers",
    "HeadersTooLarge",
    "MalformedResponse",
    "OutOfResources",
    "Pool",
    "ReadTimeout",
    "Reply",
    "Response",
    "SlowFraming",
    "SlowHead",
    "UpstreamError",
    "fetch",
    "json_body",
]
