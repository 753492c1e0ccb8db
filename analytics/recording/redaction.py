"""What of the captured headers may be stored: credentials never are, whoever sent them."""

from lib.secret_headers import REDACTED, is_secret

# Framing headers describe the wire, not the request; ccflare left them out too.
_NOT_STORED = frozenset(
    {"accept-encoding", "content-encoding", "content-length", "transfer-encoding"}
)
_STORED, _SECRET, _LEFT_OUT = 0, 1, 2


def redact_headers(headers: list[tuple[bytes, bytes]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    names = _names
    for raw_name, raw_value in headers or ():
        known = names.get(raw_name)
        name, kind = known if known is not None else _learn(raw_name)
        if kind == _STORED:
            out[name] = raw_value.decode("latin-1")
        elif kind == _SECRET:
            out[name] = REDACTED
    return out


# Each name as stored (lower case) and what becomes of its value, worked out once: the
# same few names come with every request, and this runs for each of them (recorder).
_names: dict[bytes, tuple[str, int]] = {}
_MAX_NAMES = 1024


def _learn(raw_name: bytes) -> tuple[str, int]:
    name = raw_name.decode("latin-1").lower()
    kind = _LEFT_OUT if name in _NOT_STORED else _SECRET if is_secret(name) else _STORED
    if len(_names) < _MAX_NAMES:  # a client inventing names cannot grow it for ever
        _names[raw_name] = (name, kind)
    return name, kind
