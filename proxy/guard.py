"""What a /v1/ request must satisfy before anything is sent upstream: its method, path, Host
and Origin.

The pool's credentials are attached to whatever leaves here, so the checks are strict:
- the method is one of HTTP's own that an API is called with (CONNECT, TRACE and made-up
  or lower-case tokens are answered here, never sent with an account's credential);
- the path forwarded is exactly the one validated (no dot segments, encoded slashes or
  backslashes; it stays under /v1/), and the upstream client never rewrites it;
- the Host header obeys ALLOWED_HOSTS, as on every Django route (DNS rebinding);
- a browser request from another origin is refused unless CORS_ALLOWED_ORIGINS lists
  it (any web page the user opens could otherwise spend the pool). SDKs and Claude
  Code send no Origin and are not affected.
"""

import re
from dataclasses import dataclass, replace
from urllib.parse import quote, unquote

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from proxy import upstream

Headers = list[tuple[bytes, bytes]]

_PREFIX = "/v1/"
# Control characters and the characters that would smuggle a second path separator.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")
_CROSS_SITE = frozenset({b"cross-site", b"same-site"})
# Methods are case-sensitive (RFC 9110 9.1): `get` is not GET.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the request is answered by the proxy itself (in Anthropic's error shape)."""

    status: int
    error_type: str
    message: str


@dataclass(frozen=True, slots=True)
class Admission:
    """What the handler needs from an accepted request."""

    path: str  # the raw path to forward, byte for byte as validated
    # CORS answer headers for an allowed browser origin; empty for SDKs and curl.
    cors: tuple[tuple[bytes, bytes], ...] = ()
    preflight: bool = False
    # Headers the client's `Connection` header names: hop-by-hop, never forwarded.
    hop_by_hop: frozenset[str] = frozenset()


def admit(scope: dict) -> Admission | Refusal:
    """Check method, path, Host and Origin; the cheap common case (an SDK) is one pass over
    headers."""
    if scope["method"] not in METHODS:
        shown = scope["method"][:20].encode("ascii", "backslashreplace").decode()
        return Refusal(405, "invalid_request_error", f"Method {shown} is not allowed")
    path = forwardable_path(scope)
    if path is None:
        return Refusal(400, "invalid_request_error", "Invalid request path")
    host = origin = fetch_site = connection = upgrade = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
        elif name == b"origin":
            origin = value
        elif name == b"sec-fetch-site":
            fetch_site = value
        elif name == b"connection":
            # Every line counts: a list split over two lines is one list (RFC 9110 §5.3).
            connection = value if connection is None else connection + b"," + value
        elif name == b"upgrade":
            upgrade = value if upgrade is None else upgrade + b"," + value
    if host is not None and not host_allowed(host):
        return Refusal(400, "invalid_request_error", "Invalid Host header")
    if upgrade is not None and b"websocket" in upgrade.lower():
        # Anthropic's API has no websocket; forwarded, the request would be a plain GET.
        return Refusal(400, "invalid_request_error", "WebSocket upgrades are not supported")
    if origin is None and fetch_site not in _CROSS_SITE:
        admitted: Admission | Refusal = Admission(path)
    else:
        admitted = _admit_browser(scope, path, host, origin)
    if connection is None or isinstance(admitted, Refusal):
        return admitted
    return replace(admitted, hop_by_hop=upstream.header_names(connection))


def forwardable_path(scope: dict) -> str | None:
    """The raw path to send upstream, or None when it could leave /v1/.

    The raw path (not the decoded one) is what goes upstream, so it is what must be
    checked: decoded once, as the upstream will, it must start with /v1/ and hold no
    `..` or `.` segment, no encoded slash or backslash, no control character.
    """
    raw = scope.get("raw_path")
    text = raw.decode("latin-1") if raw else quote(scope["path"])
    if not text.isascii():
        return None
    decoded = text
    if "%" in text:
        lowered = text.lower()
        if "%2f" in lowered or "%5c" in lowered:
            return None
        try:
            decoded = unquote(text, errors="strict")
        except UnicodeDecodeError:
            return None
    if not decoded.startswith(_PREFIX) or ".." in decoded or _FORBIDDEN.search(decoded):
        return None
    if "/./" in decoded or decoded.endswith("/."):
        return None
    return text


_host_verdicts: dict[bytes, bool] = {}


def host_allowed(host: bytes) -> bool:
    """Django's own ALLOWED_HOSTS rule, remembered per Host value (a handful in practice)."""
    verdict = _host_verdicts.get(host)
    if verdict is None:
        domain, _port = split_domain_port(host.decode("latin-1"))
        verdict = bool(domain) and validate_host(domain, _allowed_hosts())
        if len(_host_verdicts) > 1000:  # a scan of random Host values must not grow memory
            _host_verdicts.clear()
        _host_verdicts[host] = verdict
    return verdict


def _allowed_hosts() -> list[str]:
    # As Django's HttpRequest.get_host: DEBUG with no list allows the local names.
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return settings.ALLOWED_HOSTS


def _admit_browser(
    scope: dict, path: str, host: bytes | None, origin: bytes | None
) -> Admission | Refusal:
    """A request a browser made: allowed for listed origins and the proxy's own."""
    origin_text = origin.decode("latin-1") if origin is not None else None
    if origin is not None and origin_text in settings.CORS_ALLOWED_ORIGINS:
        preflight = scope["method"] == "OPTIONS" and _has(scope, b"access-control-request-method")
        return Admission(path, cors_headers(origin, scope, preflight=preflight), preflight)
    if origin is not None and host is not None and same_origin(origin, host):
        return Admission(path)
    return Refusal(
        403,
        "permission_error",
        "Cross-origin browser requests to this proxy are refused; "
        "list the origin in CORS_ALLOWED_ORIGINS to allow it",
    )


def same_origin(origin: bytes, host: bytes) -> bool:
    """Whether an Origin header names the Host the request was sent to (port included)."""
    _scheme, sep, rest = origin.partition(b"://")
    return bool(sep) and rest == host


def cors_headers(origin: bytes, scope: dict, *, preflight: bool) -> tuple[tuple[bytes, bytes], ...]:
    """The CORS answer for an allowed origin; a preflight also names methods and headers."""
    headers = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
    if preflight:
        requested = _header(scope, b"access-control-request-headers") or b""
        headers += [
            (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
            (b"access-control-allow-headers", requested),
            (b"access-control-max-age", b"600"),
        ]
    else:
        headers.append((b"access-control-expose-headers", b"*"))
    return tuple(headers)


def _header(scope: dict, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return value
    return None


def _has(scope: dict, wanted: bytes) -> bool:
    return _header(scope, wanted) is not None
