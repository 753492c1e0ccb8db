"""What of the captured headers may be stored: credentials never are, whoever sent them."""

from lib.secret_headers import NAMES, REDACTED, SUFFIXES

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
        # lib.secret_headers.is_secret, inline: this runs for every header of every request.
        secret = name in NAMES or name.endswith(SUFFIXES)
        out[name] = REDACTED if secret else raw_value.decode("latin-1")
    return out
