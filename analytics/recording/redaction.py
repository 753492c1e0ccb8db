"""What of the captured headers may be stored: credentials never are, whoever sent them."""

REDACTED = "[REDACTED]"
SECRET_HEADERS = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"}
)
# Framing headers describe the wire, not the request; ccflare left them out too.
_NOT_STORED = frozenset(
    {"accept-encoding", "content-encoding", "content-length", "transfer-encoding"}
)


def redact_headers(headers: list[tuple[bytes, bytes]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in headers or ():
        name = raw_name.decode("latin-1").lower()
        if name in _NOT_STORED:
            continue
        out[name] = REDACTED if name in SECRET_HEADERS else raw_value.decode("latin-1")
    return out
