"""A captured request/response pair as a conversation to read: messages made of typed blocks.

Pure (no Django, no I/O): the request body's `system` and `messages`, then the
assistant reply rebuilt from the response, either SSE events (text, thinking and
tool_use deltas, partial JSON included) or a JSON message. Text is tidied as
ccflare's dashboard did: `<system-reminder>` sections removed and Claude Code's
`123→` line-number prefixes shown as `123: `.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>\s*", re.DOTALL)
_LINE_ARROW = re.compile(r"^(\s*\d+)→", re.MULTILINE)


@dataclass(slots=True)
class Block:
    """One piece of a message: kind is text, thinking, tool_use, tool_result, image or other."""

    kind: str
    text: str = ""
    name: str = ""  # tool name (tool_use) or the tool_use id a result answers
    is_error: bool = False


@dataclass(slots=True)
class Message:
    role: str  # system, user or assistant
    blocks: list[Block] = field(default_factory=list)


def decode_body(encoded: str | None) -> bytes:
    """A captured body (base64, as stored) as bytes; empty for none or garbage."""
    if not encoded:
        return b""
    try:
        return base64.b64decode(encoded)
    except (binascii.Error, ValueError):
        return b""


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or None when it is not JSON (or was cut by the capture limit, or
    is nested too deep to decode: a client's body, shown as text then)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def pretty(raw: bytes) -> str:
    """JSON bodies indented; anything else (SSE, text) as text."""
    value = parse_json(raw)
    if value is None:
        return raw.decode("utf-8", errors="replace")
    return json.dumps(value, indent=2, ensure_ascii=False)


def build(request_body: bytes, response_body: bytes) -> list[Message]:
    """The conversation: system prompt, the request's messages, then the reply if any."""
    request = parse_json(request_body)
    messages = request_messages(request) if isinstance(request, dict) else []
    reply = reply_message(response_body)
    if reply is not None and reply.blocks:
        messages.append(reply)
    return messages


def request_messages(request: dict) -> list[Message]:
    result = []
    system = request.get("system")
    if system:
        result.append(Message("system", blocks_of(system)))
    for item in request.get("messages") or []:
        if isinstance(item, dict):
            result.append(Message(str(item.get("role", "user")), blocks_of(item.get("content"))))
    return result


def blocks_of(content: Any) -> list[Block]:
    """Blocks of a `content` (or `system`) value: a string or a list of content blocks."""
    if isinstance(content, str):
        return [Block("text", tidy(content))] if tidy(content) else []
    if not isinstance(content, list):
        return []
    return [block for item in content if (block := block_of(item)) is not None]


def block_of(item: Any) -> Block | None:
    if not isinstance(item, dict):
        return None
    kind = item.get("type")
    if kind == "text":
        text = tidy(str(item.get("text", "")))
        return Block("text", text) if text else None
    if kind in ("thinking", "redacted_thinking"):
        return Block("thinking", str(item.get("thinking") or "[redacted thinking]"))
    if kind in ("tool_use", "server_tool_use"):
        return Block("tool_use", _dump(item.get("input")), name=str(item.get("name", "")))
    if kind == "tool_result":
        return _tool_result(item)
    if kind in ("image", "document"):
        return Block("image", f"[{kind}]")
    return Block("other", _dump(item))


def _tool_result(item: dict) -> Block:
    content = item.get("content")
    if isinstance(content, list):
        text = "\n\n".join(block.text for block in blocks_of(content))
    else:
        text = tidy(str(content or ""))
    return Block(
        "tool_result",
        text,
        name=str(item.get("tool_use_id", "")),
        is_error=bool(item.get("is_error")),
    )


def tidy(text: str) -> str:
    """Remove system reminders and rewrite `12→` line prefixes as `12: `."""
    return _LINE_ARROW.sub(r"\1: ", _REMINDER.sub("", text)).strip()


def reply_message(body: bytes) -> Message | None:
    """The assistant's reply from a JSON message or an SSE stream; None if neither."""
    value = parse_json(body)
    if isinstance(value, dict):
        if value.get("type") != "message":
            return None
        return Message("assistant", blocks_of(value.get("content")))
    text = body.decode("utf-8", errors="replace")
    if "data:" not in text:
        return None
    return Message("assistant", fold_stream(sse_data(text)))


def sse_data(text: str) -> list[dict]:
    """The JSON `data:` payloads of an SSE stream, in order (malformed ones skipped)."""
    events = []
    for frame in re.split(r"\r?\n\r?\n", text):
        data = "\n".join(
            line[5:].lstrip() for line in frame.splitlines() if line.startswith("data:")
        )
        value = parse_json(data.encode()) if data else None
        if isinstance(value, dict):
            events.append(value)
    return events


def fold_stream(events: list[dict]) -> list[Block]:
    """Content blocks rebuilt from content_block_start/delta events, by index."""
    building: dict[int, dict] = {}
    for event in events:
        index = event.get("index", 0)
        if event.get("type") == "content_block_start":
            building[index] = {**(event.get("content_block") or {}), "_json": ""}
        elif event.get("type") == "content_block_delta":
            _apply_delta(building.setdefault(index, {"type": "text"}), event.get("delta") or {})
    return [block for _, item in sorted(building.items()) if (block := _finish(item))]


def _apply_delta(item: dict, delta: dict) -> None:
    kind = delta.get("type")
    if kind == "text_delta":
        item["text"] = item.get("text", "") + delta.get("text", "")
    elif kind == "thinking_delta":
        item["thinking"] = item.get("thinking", "") + delta.get("thinking", "")
    elif kind == "input_json_delta":
        item["_json"] = item.get("_json", "") + delta.get("partial_json", "")


def _finish(item: dict) -> Block | None:
    partial = item.pop("_json", "")
    if partial:
        parsed = parse_json(partial.encode())
        # A stream cut mid-tool-call leaves partial JSON: show it as it came.
        item["input"] = parsed if parsed is not None else partial
    return block_of(item)


def _dump(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)
