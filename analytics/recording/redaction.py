"""What of the captured headers may be stored: credentials never are, whoever sent them."""

import json
from json.encoder import encode_basestring_ascii as _json_string

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
        name, kind, _ = known if known is not None else _learn(raw_name)
        if kind == _STORED:
            out[name] = raw_value.decode("latin-1")
        elif kind == _SECRET:
            out[name] = REDACTED
    return out


def headers_json(headers: list[tuple[bytes, bytes]] | None) -> str:
    """`redact_headers` as JSON text, written in one pass (the recorder's, per request).

    Half the cost of building the dict and `json.dumps` it. A name that comes twice (in
    any case) falls back to that, so its last value wins as in the dict.
    """
    members = []
    seen: set[str] = set()
    names = _names
    for raw_name, raw_value in headers or ():
        known = names.get(raw_name)
        name, kind, key = known if known is not None else _learn(raw_name)
        if kind == _LEFT_OUT:
            continue
        seen.add(name)
        if kind == _STORED:
            members.append(key + _json_string(raw_value.decode("latin-1")))
        else:
            members.append(key + _REDACTED_JSON)
    if len(seen) < len(members):
        return json.dumps(redact_headers(headers))
    return "{" + ",".join(members) + "}"


_REDACTED_JSON = _json_string(REDACTED)

# Each name as stored (lower case), what becomes of its value and its JSON key, worked
# out once: the same few names come with every request, and this runs for each of them.
_names: dict[bytes, tuple[str, int, str]] = {}
_MAX_NAMES = 1024


def _learn(raw_name: bytes) -> tuple[str, int, str]:
    name = raw_name.decode("latin-1").lower()
    kind = _LEFT_OUT if name in _NOT_STORED else _SECRET if is_secret(name) else _STORED
    learned = (name, kind, _json_string(name) + ":")
    if len(_names) < _MAX_NAMES:  # a client inventing names cannot grow it for ever
        _names[raw_name] = learned
    return learned
