"""The upstream HTTP client: one connection pool per process, and the header rules for it.

Our own lean HTTP/1.1 client (lib/h1) rather than httpx or aiohttp on the hot path:
measurements (docs/architecture.md, docs/performance.md) put httpx's async pool, then aiohttp's
request and response machinery, as the main client cost under concurrency.
"""

import asyncio
import re

from django.conf import settings

from accounts import oauth
from lib.h1 import Pool, Response

OAUTH_BETA = oauth.BETA

# Never forwarded upstream: hop-by-hop headers, what the client sets itself (Host, framing,
# Expect), accept-encoding (we relay bytes as they come and parse SSE, so no compression), and
# the client's cookies (a browser's session with this server is nobody else's business).
_REQUEST_DROP = frozenset(
    {
        "host",
        "cookie",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "accept-encoding",
        # The proxy has the whole body before it sends anything: an upstream asked to
        # expect it would answer 417 to anything but 100-continue, which it never needs.
        "expect",
    }
)
_CREDENTIALS = frozenset({"x-api-key", "authorization"})
# Never relayed to the client: hop-by-hop headers; the ASGI server frames the body (and
# the proxy states a whole body's length itself: an upstream's Content-Length beside a
# chunked body, or one its body fell short of, left the client waiting or split the
# connection's next answer). Nor a cookie the upstream sets: it would land on this
# server's origin in a browser.
_RESPONSE_DROP = frozenset(
    {
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "server",
        "set-cookie",
        "proxy-authenticate",
    }
)
# Compared with the raw names, each lowered once, instead of decoding every name.
_RESPONSE_DROP_RAW = frozenset(name.encode() for name in _RESPONSE_DROP)
_UNSAFE_VALUE = re.compile(r"[\x00-\x1f\x7f]")

_session: Pool | None = None


def get_session() -> Pool:
    """The process-wide pool, created on first use inside the running event loop.

    A pool belongs to its loop (its connections do): a new loop (tests run one per test)
    gets a new pool, and the old one's connections go with their loop.
    """
    global _session
    if _session is None or _session.closed or _session.loop is not asyncio.get_running_loop():
        _session = Pool(
            connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.UPSTREAM_READ_TIMEOUT_SECONDS,
        )
    return _session


async def close_session() -> None:
    global _session
    if _session is not None:
        _session.close()
        _session = None


def build_headers(
    client_headers: list[tuple[bytes, bytes]],
    *,
    api_key: str | None = None,
    bearer: str | None = None,
    strip: frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    """Headers for the upstream request.

    With a credential (api_key or bearer), the client's own credential headers are
    removed and the account's injected; with neither, the client's pass through
    (no-account passthrough). OAuth bearers also need the oauth beta flag, merged
    into whatever anthropic-beta flags the client sent. `strip` names extra headers
    to remove (the proxy's own client key, the ones the client's `Connection` names:
    proxy.guard reads those in its one pass over the headers).
    """
    own_credential = api_key is not None or bearer is not None
    out: list[tuple[str, str]] = []
    beta: str | None = None
    for raw_name, raw_value in client_headers:
        name = raw_name.decode("latin-1")
        if name in _REQUEST_DROP or name in strip:
            continue
        if own_credential and name in _CREDENTIALS:
            continue
        if bearer is not None and name == "anthropic-beta":
            beta = raw_value.decode("latin-1")
            continue
        out.append((name, raw_value.decode("latin-1")))
    # The client's Accept-Encoding is dropped above: without one an upstream may use any
    # coding (RFC 9110 §12.5.3), and the usage in a gzipped answer could not be read.
    out.append(("accept-encoding", "identity"))
    if api_key is not None:
        out.append(("x-api-key", api_key))
    if bearer is not None:
        out.append(("authorization", f"Bearer {bearer}"))
        out.append(("anthropic-beta", merge_beta(beta)))
    return out


def header_safe(value: str | None) -> bool:
    """Whether a credential can go into a header: present, no control characters."""
    return bool(value) and _UNSAFE_VALUE.search(value) is None  # type: ignore[arg-type]


def header_names(connection: bytes) -> frozenset[str]:
    """Header names listed in a `Connection` value: hop-by-hop by declaration (RFC 9110 §7.6.1)."""
    names = (token.strip().lower() for token in connection.decode("latin-1").split(","))
    return frozenset(name for name in names if name)


def merge_beta(client_beta: str | None) -> str:
    flags = [f.strip() for f in (client_beta or "").split(",") if f.strip()]
    if OAUTH_BETA not in flags:
        flags.append(OAUTH_BETA)
    return ",".join(flags)


def response_headers(upstream: Response) -> list[tuple[bytes, bytes]]:
    """The answer's headers to relay, names in lower case (as ASGI wants them; lib.h1's are).

    lib.h1 has already left out the fields no client could read (lib.h1.head.parse_head).
    """
    drop = _RESPONSE_DROP_RAW
    for name, value in upstream.raw_headers:
        if name == b"connection":  # and the headers it names (RFC 9110 §7.6.1)
            drop = drop | {token.encode("latin-1") for token in header_names(value)}
    # The client's own pairs, not copies: an open stream keeps this list (payload capture).
    return [pair for pair in upstream.raw_headers if pair[0] not in drop]
