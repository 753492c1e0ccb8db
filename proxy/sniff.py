"""The model a request asks for, and whether it asks for a stream, read from its body
without parsing it when possible.

Only needed when some account sits out a model family (a per-model weekly cap), or for
the record of a request that no answer described (no answer, an error answer, a cut
one), so the common request pays nothing. A body can hold `"model"` or `"stream"` keys
of its own deeper down (a tool's input object); when more than one is found, the body
is parsed to be sure.
"""

import json
import re

_MODEL_KEY = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')
_STREAM_KEY = re.compile(rb'"stream"\s*:\s*(true|false)')


def request_model(body: bytes) -> str | None:
    """The top-level `model` of a JSON request body, or None."""
    found = _MODEL_KEY.findall(body)
    if len(found) == 1:
        return found[0].decode("utf-8", "replace")
    if not found:
        return None
    model = _top_level(body, "model")
    return model if isinstance(model, str) else None


def request_stream(body: bytes) -> bool:
    """Whether a JSON request body asks for a stream (a top-level `"stream": true`)."""
    found = _STREAM_KEY.findall(body)
    if len(found) == 1:
        return found[0] == b"true"
    if not found:
        return False
    return _top_level(body, "stream") is True


def _top_level(body: bytes, key: str) -> object:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data.get(key) if isinstance(data, dict) else None
