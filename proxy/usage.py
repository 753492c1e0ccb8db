"""Token usage, timing and outcome folded from one Anthropic Messages API response."""

import json
from typing import Any

from analytics.recording.usage import Usage
from proxy.sse import Event

# Usage counts copied as given; `message_delta` repeats them cumulatively, so the
# last value seen wins.
_COUNT_FIELDS = (
    "input_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens",
)
# The field of each delta type that carries generated text.
_DELTA_TEXT_FIELDS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}
# Rough characters per token, only for streams cut before their final count.
_CHARS_PER_TOKEN = 4


class UsageTracker:
    """Accumulates what one response says about its usage, event by event or from its body.

    Feed either every SSE event of a stream to `on_event`, or the whole JSON body of a
    non-streaming reply to `on_json_body`. Undecodable or unexpected input is ignored,
    so a broken upstream never raises here.
    """

    __slots__ = (
        "model",
        "input_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "cache_creation_5m_tokens",
        "cache_creation_1h_tokens",
        "output_tokens",
        "first_token_at",
        "last_token_at",
        "finished",
        "stop_reason",
        "error",
        "estimated_output_chars",
        "_output_final",
    )

    model: str | None
    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cache_creation_5m_tokens: int
    cache_creation_1h_tokens: int
    output_tokens: int
    first_token_at: float | None
    last_token_at: float | None
    finished: bool  # saw `message_stop`, or parsed a complete message body
    stop_reason: str | None
    error: str | None  # message of an upstream `error` event or error body
    estimated_output_chars: int

    def __init__(self) -> None:
        self.model = None
        self.input_tokens = 0
        self.cache_read_input_tokens = 0
        self.cache_creation_input_tokens = 0
        self.cache_creation_5m_tokens = 0
        self.cache_creation_1h_tokens = 0
        self.output_tokens = 0
        self.first_token_at = None
        self.last_token_at = None
        self.finished = False
        self.stop_reason = None
        self.error = None
        self.estimated_output_chars = 0
        # message_start already reports a small output count (often 1), so "> 0" cannot
        # tell a final count from a provisional one.
        self._output_final = False

    def on_event(self, event: Event, now: float) -> None:
        """Fold one SSE event received at `now` (any clock, seconds) into the totals."""
        if self.finished:
            return  # nothing counts after `message_stop`: the message is complete
        kind = event.event
        if kind == "content_block_delta":
            self._count_delta(_load_object(event.data))
        elif kind == "content_block_start":
            if self.first_token_at is None:
                self.first_token_at = now
        elif kind == "message_start":
            message = _load_object(event.data).get("message")
            if isinstance(message, dict):
                self._apply_message(message)
        elif kind == "message_delta":
            self.last_token_at = now
            self._apply_message_delta(_load_object(event.data))
        elif kind == "message_stop":
            self.finished = True
        elif kind == "error":
            self.error = _error_message(event.data)

    def on_json_body(self, body: bytes) -> bool:
        """Fold the JSON body of a non-streaming reply: a message, or an error object.

        Returns whether it was a message whose usage gave both counts the API always
        sends (`input_tokens`, `output_tokens`); `finished` tells a message from the rest.
        """
        data = _load_object(body)
        kind = data.get("type")
        if kind == "message":
            self._apply_message(data)
            self._output_final = True
            self.finished = True
            return _has_counts(data.get("usage"))
        if kind == "error":
            self.error = _error_message(body.decode("utf-8", "replace"))
        return False

    @property
    def final_output_tokens(self) -> int:
        """The output count to record.

        The upstream's own count once it sent its final one (`message_delta` or a
        JSON body). Only for a stream cut before that, an estimate from the streamed
        characters (about 4 per token), never below the provisional count.
        """
        if self._output_final:
            return self.output_tokens
        estimate = -(-self.estimated_output_chars // _CHARS_PER_TOKEN)
        return max(self.output_tokens, estimate)

    def snapshot(self) -> Usage:
        """What was seen so far, as the immutable value the recorder stores."""
        return Usage(
            model=self.model,
            input_tokens=self.input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens,
            cache_creation_5m_tokens=self.cache_creation_5m_tokens,
            cache_creation_1h_tokens=self.cache_creation_1h_tokens,
            output_tokens=self.final_output_tokens,
            output_tokens_per_second=self.tokens_per_second,
        )

    @property
    def tokens_per_second(self) -> float | None:
        """Output tokens over the time from the first content block to the final delta."""
        if self.first_token_at is None or self.last_token_at is None:
            return None
        output = self.final_output_tokens
        if output <= 0:
            return None
        # A reply that arrives in one chunk has (almost) no duration.
        return output / max(self.last_token_at - self.first_token_at, 0.001)

    def _apply_message(self, message: dict[str, Any]) -> None:
        model = message.get("model")
        if isinstance(model, str):
            self.model = model
        stop_reason = message.get("stop_reason")
        if isinstance(stop_reason, str):
            self.stop_reason = stop_reason
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._apply_usage(usage)

    def _apply_message_delta(self, data: dict[str, Any]) -> None:
        delta = data.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
            self.stop_reason = delta["stop_reason"]
        usage = data.get("usage")
        if isinstance(usage, dict):
            self._apply_usage(usage)
            if _as_count(usage.get("output_tokens")) is not None:
                self._output_final = True

    def _apply_usage(self, usage: dict[str, Any]) -> None:
        """Overwrite the counts that `usage` carries, then keep the cache-write split whole."""
        for field in _COUNT_FIELDS:
            value = _as_count(usage.get(field))
            if value is not None:
                setattr(self, field, value)
        split = usage.get("cache_creation")
        if isinstance(split, dict):
            self.cache_creation_5m_tokens = _count(split.get("ephemeral_5m_input_tokens"))
            self.cache_creation_1h_tokens = _count(split.get("ephemeral_1h_input_tokens"))
            if _as_count(usage.get("cache_creation_input_tokens")) is None:
                self.cache_creation_input_tokens = (
                    self.cache_creation_5m_tokens + self.cache_creation_1h_tokens
                )
        elif (
            self.cache_creation_5m_tokens + self.cache_creation_1h_tokens
            != self.cache_creation_input_tokens
        ):
            # A total without its split (older responses, or a later message_delta that
            # changed it) is all 5-minute writes (docs/pricing.md, cache writes).
            self.cache_creation_5m_tokens = self.cache_creation_input_tokens
            self.cache_creation_1h_tokens = 0

    def _count_delta(self, data: dict[str, Any]) -> None:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return
        kind = delta.get("type")
        field = _DELTA_TEXT_FIELDS.get(kind) if isinstance(kind, str) else None
        text = delta.get(field) if field else None
        if isinstance(text, str):
            self.estimated_output_chars += len(text)


def _load_object(raw: str | bytes) -> dict[str, Any]:
    """The JSON object in `raw`, or an empty dict when it is not one."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        # ValueError covers UnicodeDecodeError and over-long integers; RecursionError
        # a hostile body nested thousands deep. The relay must never fail on a body.
        return {}
    return data if isinstance(data, dict) else {}


def _error_message(raw: str) -> str:
    """`error.message` of an Anthropic error object, else the raw text."""
    error = _load_object(raw).get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else raw


# A token count past this is no count at all: twice the largest context window (1M tokens
# per request; output is at most 128K), so one bogus answer books at most a few hundred
# dollars, never thousands. It also keeps a row within PostgreSQL's 32-bit columns: its
# totals add up to four counts, each under 2**21.
MAX_COUNT = 2**21


def _as_count(value: object) -> int | None:
    """`value` as a token count, or None when it is none: JSON has one number type, so
    7.0 counts as 7; a bool (an int to Python) does not, nor a count out of range."""
    if type(value) is int:  # exact type: quicker than isinstance, and refuses bools
        return value if 0 <= value < MAX_COUNT else None
    if type(value) is float and value.is_integer() and 0 <= value < MAX_COUNT:
        return int(value)
    return None


def _count(value: object) -> int:
    count = _as_count(value)
    return 0 if count is None else count


def _has_counts(usage: object) -> bool:
    """Whether a message's usage gives the two counts every Messages answer carries."""
    if not isinstance(usage, dict):
        return False
    return (
        _as_count(usage.get("input_tokens")) is not None
        and _as_count(usage.get("output_tokens")) is not None
    )
