"""UsageTracker: usage numbers folded from captured streams and JSON bodies."""

import json
from pathlib import Path
from typing import Any

import pytest

from proxy.sse import Event, SSEParser
from proxy.usage import UsageTracker

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sse"


def fold_stream(name: str) -> UsageTracker:
    """Feed a captured stream in one chunk; the n-th event arrives at second n."""
    tracker = UsageTracker()
    events = SSEParser().feed((FIXTURES / name).read_bytes())
    for now, event in enumerate(events):
        tracker.on_event(event, float(now))
    return tracker


def summary(tracker: UsageTracker) -> dict[str, Any]:
    return {
        "model": tracker.model,
        "input_tokens": tracker.input_tokens,
        "cache_read_input_tokens": tracker.cache_read_input_tokens,
        "cache_creation_input_tokens": tracker.cache_creation_input_tokens,
        "cache_creation_5m_tokens": tracker.cache_creation_5m_tokens,
        "cache_creation_1h_tokens": tracker.cache_creation_1h_tokens,
        "output_tokens": tracker.output_tokens,
        "final_output_tokens": tracker.final_output_tokens,
        "estimated_output_chars": tracker.estimated_output_chars,
        "prompt_tokens": tracker.snapshot().prompt_tokens,
        "total_tokens": tracker.snapshot().total_tokens,
        "first_token_at": tracker.first_token_at,
        "last_token_at": tracker.last_token_at,
        "tokens_per_second": tracker.tokens_per_second,
        "finished": tracker.finished,
        "stop_reason": tracker.stop_reason,
        "error": tracker.error,
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "text.txt",
            {
                "model": "claude-sonnet-4-5-20250929",
                "input_tokens": 12,
                "cache_read_input_tokens": 4096,
                "cache_creation_input_tokens": 2048,
                "cache_creation_5m_tokens": 1536,
                "cache_creation_1h_tokens": 512,
                "output_tokens": 15,
                "final_output_tokens": 15,
                # "Hello" + "! Café au lait" + " costs 3 € — enjoy 👋"
                "estimated_output_chars": 39,
                "prompt_tokens": 6156,
                "total_tokens": 6171,
                "first_token_at": 1.0,
                "last_token_at": 7.0,
                "tokens_per_second": 2.5,
                "finished": True,
                "stop_reason": "end_turn",
                "error": None,
            },
        ),
        (
            "thinking_tool_use.txt",
            {
                "model": "claude-haiku-5-5",
                "input_tokens": 472,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_creation_5m_tokens": 0,
                "cache_creation_1h_tokens": 0,
                "output_tokens": 89,
                "final_output_tokens": 89,
                "estimated_output_chars": 101,  # thinking 36 + 27, text 13, tool input 0 + 12 + 13
                "prompt_tokens": 472,
                "total_tokens": 561,
                "first_token_at": 1.0,
                "last_token_at": 15.0,
                "tokens_per_second": 89 / 14,
                "finished": True,
                "stop_reason": "tool_use",
                "error": None,
            },
        ),
        (
            "error.txt",
            {
                "model": "claude-sonnet-4-5-20250929",
                "input_tokens": 310,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_creation_5m_tokens": 0,
                "cache_creation_1h_tokens": 0,
                "output_tokens": 1,
                "final_output_tokens": 1,
                "estimated_output_chars": 0,
                "prompt_tokens": 310,
                "total_tokens": 311,
                "first_token_at": None,
                "last_token_at": None,
                "tokens_per_second": None,
                "finished": False,
                "stop_reason": None,
                "error": "Overloaded",
            },
        ),
        (
            "truncated.txt",
            {
                "model": "claude-haiku-5-5",
                "input_tokens": 25,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 1000,
                "cache_creation_5m_tokens": 1000,
                "cache_creation_1h_tokens": 0,
                "output_tokens": 1,  # message_start's provisional count
                "final_output_tokens": 9,  # ceil(36 streamed characters / 4)
                "estimated_output_chars": 36,
                "prompt_tokens": 1025,
                "total_tokens": 1034,
                "first_token_at": 1.0,
                "last_token_at": None,
                "tokens_per_second": None,
                "finished": False,
                "stop_reason": None,
                "error": None,
            },
        ),
    ],
    ids=["text", "thinking-tool-use", "error", "truncated"],
)
def test_folds_captured_stream(name: str, expected: dict[str, Any]) -> None:
    assert summary(fold_stream(name)) == expected


def test_final_delta_count_replaces_estimate() -> None:
    tracker = UsageTracker()

    tracker.on_event(
        Event("content_block_delta", '{"delta":{"type":"text_delta","text":"abcdefgh"}}'), 1.0
    )
    estimated = tracker.final_output_tokens
    tracker.on_event(Event("message_delta", '{"delta":{},"usage":{"output_tokens":0}}'), 2.0)

    assert estimated == 2
    assert tracker.final_output_tokens == 0


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [(1.0, 3.0, 7.5), (5.0, 5.0, 15_000.0), (5.0, 4.0, 15_000.0)],
    ids=["normal", "same-instant", "clock-went-back"],
)
def test_tokens_per_second_over_first_to_last_token(
    first: float, last: float, expected: float
) -> None:
    tracker = UsageTracker()

    tracker.on_event(Event("content_block_start", "{}"), first)
    tracker.on_event(Event("message_delta", '{"usage":{"output_tokens":15}}'), last)

    assert tracker.tokens_per_second == expected


def test_tokens_per_second_is_none_without_output() -> None:
    tracker = UsageTracker()

    tracker.on_event(Event("content_block_start", "{}"), 1.0)
    tracker.on_event(Event("message_delta", '{"usage":{"output_tokens":0}}'), 2.0)

    assert tracker.tokens_per_second is None


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"cache_creation_input_tokens": 300}, (300, 300, 0)),
        (
            {
                "cache_creation_input_tokens": 300,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 100,
                    "ephemeral_1h_input_tokens": 200,
                },
            },
            (300, 100, 200),
        ),
        ({"cache_creation": {"ephemeral_1h_input_tokens": 50}}, (50, 0, 50)),
        ({"cache_creation_input_tokens": None}, (0, 0, 0)),
        ({}, (0, 0, 0)),
    ],
    ids=["total-only-is-5m", "split", "split-without-total", "null-total", "no-cache-fields"],
)
def test_splits_cache_writes_into_5m_and_1h(usage: dict[str, Any], expected: tuple) -> None:
    tracker = UsageTracker()

    tracker.on_json_body(json.dumps({"type": "message", "usage": usage}).encode())

    assert (
        tracker.cache_creation_input_tokens,
        tracker.cache_creation_5m_tokens,
        tracker.cache_creation_1h_tokens,
    ) == expected


def test_message_delta_overwrites_counts_it_carries() -> None:
    tracker = UsageTracker()
    start = {
        "message": {
            "model": "claude-haiku-5-5",
            "usage": {
                "input_tokens": 10,
                "cache_read_input_tokens": 20,
                "cache_creation_input_tokens": 30,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 10,
                    "ephemeral_1h_input_tokens": 20,
                },
                "output_tokens": 1,
            },
        }
    }

    tracker.on_event(Event("message_start", json.dumps(start)), 0.0)
    tracker.on_event(
        Event("message_delta", '{"usage":{"input_tokens":11,"cache_creation_input_tokens":40}}'),
        1.0,
    )

    assert (tracker.input_tokens, tracker.cache_read_input_tokens) == (11, 20)
    assert (tracker.cache_creation_5m_tokens, tracker.cache_creation_1h_tokens) == (40, 0)
    assert (tracker.output_tokens, tracker.final_output_tokens) == (1, 1)


def test_folds_message_body() -> None:
    body = {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Hi!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 2095,
            "cache_creation_input_tokens": 400,
            "cache_read_input_tokens": 1000,
            "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 300},
            "output_tokens": 503,
        },
    }
    tracker = UsageTracker()

    tracker.on_json_body(json.dumps(body).encode())

    assert summary(tracker) == {
        "model": "claude-sonnet-4-5-20250929",
        "input_tokens": 2095,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 400,
        "cache_creation_5m_tokens": 100,
        "cache_creation_1h_tokens": 300,
        "output_tokens": 503,
        "final_output_tokens": 503,
        "estimated_output_chars": 0,
        "prompt_tokens": 3495,
        "total_tokens": 3998,
        "first_token_at": None,
        "last_token_at": None,
        "tokens_per_second": None,
        "finished": True,
        "stop_reason": "end_turn",
        "error": None,
    }


@pytest.mark.parametrize(
    ("body", "expected_error"),
    [
        (
            b'{"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}',
            "Rate limited",
        ),
        (b'{"type":"error","error":"weird"}', '{"type":"error","error":"weird"}'),
        (b"<html>502 Bad Gateway</html>", None),
        (b'{"unexpected": true}', None),
        (b"[1, 2]", None),
        (b"\xff\xfe not utf-8", None),
        (b"", None),
    ],
    ids=["error", "error-without-message", "html", "other-json", "json-array", "bad-utf8", "empty"],
)
def test_json_body_that_is_not_a_message_counts_nothing(
    body: bytes, expected_error: str | None
) -> None:
    tracker = UsageTracker()

    tracker.on_json_body(body)

    assert (tracker.error, tracker.finished, tracker.model, tracker.snapshot().total_tokens) == (
        expected_error,
        False,
        None,
        0,
    )
    assert (tracker.cache_creation_5m_tokens, tracker.cache_creation_1h_tokens) == (0, 0)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            "Overloaded",
        ),
        ("upstream went away", "upstream went away"),
    ],
    ids=["json", "raw"],
)
def test_records_error_event_message(data: str, expected: str) -> None:
    tracker = UsageTracker()

    tracker.on_event(Event("error", data), 1.0)

    assert tracker.error == expected


@pytest.mark.parametrize(
    "event",
    [
        Event("message_start", "not json"),
        Event("message_start", '{"message": "not an object"}'),
        Event("message_delta", "[]"),
        Event("content_block_delta", '{"delta": {"type": "text_delta", "text": 5}}'),
        Event("content_block_delta", '{"delta": {"type": "signature_delta", "signature": "abc"}}'),
        Event("ping", "{}"),
        Event("message", "{}"),
    ],
    ids=["bad-json", "bad-message", "array", "non-string-text", "signature", "ping", "unnamed"],
)
def test_ignores_events_without_usage(event: Event) -> None:
    tracker = UsageTracker()

    tracker.on_event(event, 1.0)

    assert (tracker.model, tracker.snapshot().total_tokens, tracker.estimated_output_chars) == (
        None,
        0,
        0,
    )


def test_nothing_after_message_stop_counts() -> None:
    tracker = UsageTracker()
    tracker.on_event(Event("message_delta", '{"delta":{},"usage":{"output_tokens":5}}'), 1.0)
    tracker.on_event(Event("message_stop", '{"type":"message_stop"}'), 2.0)
    tracker.on_event(Event("message_delta", '{"delta":{},"usage":{"output_tokens":9999}}'), 3.0)

    assert tracker.final_output_tokens == 5


def fold_usage(usage: Any) -> UsageTracker:
    tracker = UsageTracker()
    tracker.on_json_body(json.dumps({"type": "message", "usage": usage}).encode())
    return tracker


@pytest.mark.parametrize(
    ("given", "counted"),
    [(7, 7), (7.0, 7), (True, 0), (False, 0), (7.5, 0), ("7", 0), (-7, 0), (None, 0)],
    ids=["int", "integral-float", "true", "false", "fraction", "string", "negative", "null"],
)
def test_a_count_is_a_whole_number_never_a_bool(given: Any, counted: int) -> None:
    # `true` counted as 1 token (a bool is an int to Python); 7.0 (JSON's number 7) as none.
    fields = ("input_tokens", "output_tokens", "cache_read_input_tokens")
    fields += ("cache_creation_input_tokens",)
    tracker = fold_usage(dict.fromkeys(fields, given))

    assert tracker.snapshot().total_tokens == 4 * counted
    assert type(tracker.input_tokens) is int


def test_a_count_past_any_real_request_counts_nothing() -> None:
    # The duplicate key's last value won: 500,000,000 input tokens, booked as $1,500.
    usage = b'{"input_tokens":5,"input_tokens":500000000,"output_tokens":3}'
    body = b'{"type":"message","usage":' + usage + b"}"
    tracker = UsageTracker()

    tracker.on_json_body(body)

    assert (tracker.input_tokens, tracker.output_tokens) == (0, 3)
    largest = fold_usage({"input_tokens": 2_000_000, "output_tokens": 128_000})
    assert (largest.input_tokens, largest.output_tokens) == (2_000_000, 128_000)


@pytest.mark.parametrize(
    ("usage", "counted"),
    [
        ({"input_tokens": 11, "output_tokens": 7}, True),
        ({"input_tokens": 11.0, "output_tokens": 0}, True),
        ({"input_tokens": "11", "output_tokens": 7}, False),
        ({"input_tokens": 11}, False),
        ([11, 7], False),
        (None, False),
    ],
    ids=["counts", "integral-float", "string", "no-output", "list", "null"],
)
def test_a_message_body_says_whether_its_counts_were_read(usage: Any, counted: bool) -> None:
    tracker = UsageTracker()

    read = tracker.on_json_body(json.dumps({"type": "message", "usage": usage}).encode())

    assert (read, tracker.finished) == (counted, True)


def test_a_body_that_is_no_message_reads_no_counts() -> None:
    tracker = UsageTracker()

    assert tracker.on_json_body(b'{"type":"error","error":{"message":"x"}}') is False
    assert tracker.on_json_body(b"<html>") is False
