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


def models_named(body: bytes) -> list[str] | None:
    """Every model a JSON request body names, read by a parser; None when it cannot be read.

    For a client key's model rules, where no spelling may slip past the quick read above
    (`"claude-op\\u0075s-4-1"` is opus to the upstream's parser): the top-level `model`,
    each message batch's `requests[].params.model`, and every value of a `model` key
    given twice in one object (parsers differ on which one wins). No body (a GET such as
    /v1/models) names none.
    """
    if not body:
        return []
    try:
        data = json.loads(body, object_pairs_hook=_keep_repeated_models)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return []
    models = _models_of(data)
    batch = data.get("requests")
    for entry in batch if isinstance(batch, list) else ():
        params = entry.get("params") if isinstance(entry, dict) else None
        if isinstance(params, dict):
            models += _models_of(params)
    return models


class _Repeated(list):
    """The values of a `model` key an object gave more than once."""


def _keep_repeated_models(pairs: list[tuple[str, object]]) -> dict[str, object]:
    data = dict(pairs)
    if len(data) < len(pairs) and "model" in data:
        data["model"] = _Repeated(value for key, value in pairs if key == "model")
    return data


def _models_of(data: dict) -> list[str]:
    value = data.get("model")
    values = value if isinstance(value, _Repeated) else [value]
    # Not a string: the upstream refuses the request itself.
    return [model for model in values if isinstance(model, str)]


def _top_level(body: bytes, key: str) -> object:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data.get(key) if isinstance(data, dict) else None
