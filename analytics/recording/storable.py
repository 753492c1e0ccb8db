"""Text from clients and the upstream, made storable: no database takes everything a str can hold.

PostgreSQL refuses NUL in text and JSON, and no database takes a lone surrogate: UTF-8
cannot encode one, yet Python's JSON decoder makes one from an escape like "\\udc80" in a
reply. Each becomes U+FFFD, the replacement character.
"""

import dataclasses
import re
from typing import Any, TypeVar

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_T = TypeVar("_T")


def text(value: str) -> str:
    if value.isascii() and "\x00" not in value:
        return value  # almost always: a model name, a path
    return _UNSTORABLE.sub("\ufffd", value)


def record(value: _T) -> _T:
    """A dataclass instance with every str in it made storable; the same instance if none changed.

    For the recorder's second try at a record the database refused: the common fields
    are cleaned when their row is built, this reaches the rest (the routing trace, the
    usage) without a cost per request.
    """
    changes = {}
    for field in dataclasses.fields(value):  # type: ignore[arg-type]
        before = getattr(value, field.name)
        after = _cleaned(before)
        if after is not before:
            changes[field.name] = after
    return dataclasses.replace(value, **changes) if changes else value  # type: ignore[type-var]


def _cleaned(value: Any) -> Any:
    """`value` with its text made storable, the same object if nothing in it changed."""
    if isinstance(value, str):
        cleaned = text(value)
        return value if cleaned == value else cleaned
    if isinstance(value, list | tuple):
        items = [_cleaned(item) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if isinstance(value, dict):
        pairs = [(_cleaned(k), _cleaned(v)) for k, v in value.items()]
        if all(k is a and v is b for (k, v), (a, b) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return record(value)
    return value
