"""The model a request asks for, read from its body without parsing it when possible.

Only needed when some account sits out a model family (a per-model weekly cap), so the
common request pays nothing. A body can hold `"model"` keys of its own deeper down (a
tool's input object); when more than one is found, the body is parsed to be sure.
"""

import json
import re

_MODEL_KEY = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')


def request_model(body: bytes) -> str | None:
    """The top-level `model` of a JSON request body, or None."""
    found = _MODEL_KEY.findall(body)
    if len(found) == 1:
        return found[0].decode("utf-8", "replace")
    if not found:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else None
