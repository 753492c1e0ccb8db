"""lib.conversation: captured bodies rebuilt as messages of typed blocks."""

import json
from pathlib import Path

import pytest

from lib import conversation

SSE = Path(__file__).resolve().parents[1] / "fixtures" / "sse"


def test_request_messages_with_every_block_kind() -> None:
    body = {
        "system": [{"type": "text", "text": "Be brief.<system-reminder>hidden</system-reminder>"}],
        "messages": [
            {"role": "user", "content": "Read it"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Use the tool."},
                    {"type": "tool_use", "id": "t1", "name": "Read", "input": {"path": "a.py"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "1→x = 1\n2→y = 2"},
                    {"type": "image", "source": {}},
                ],
            },
        ],
    }

    messages = conversation.build(json.dumps(body).encode(), b"")

    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0].blocks[0].text == "Be brief."
    assert [b.kind for b in messages[2].blocks] == ["thinking", "tool_use"]
    assert messages[2].blocks[1].name == "Read"
    assert json.loads(messages[2].blocks[1].text) == {"path": "a.py"}
    result, image = messages[3].blocks
    assert (result.kind, result.name, result.text) == ("tool_result", "t1", "1: x = 1\n2: y = 2")
    assert image.kind == "image"


def test_reply_rebuilt_from_a_stream_with_thinking_and_a_tool_call() -> None:
    stream = (SSE / "thinking_tool_use.txt").read_bytes()

    reply = conversation.reply_message(stream)

    assert reply is not None
    assert [b.kind for b in reply.blocks] == ["thinking", "text", "tool_use"]
    assert reply.blocks[0].text.startswith("The user wants the weather in Paris.")
    assert reply.blocks[1].text == "Let me check."
    assert reply.blocks[2].name == "get_weather"
    assert "Paris" in json.loads(reply.blocks[2].text)["location"]


def test_reply_from_a_json_message() -> None:
    body = {"type": "message", "content": [{"type": "text", "text": "Hi"}]}
    reply = conversation.reply_message(json.dumps(body).encode())
    assert reply is not None and reply.blocks[0].text == "Hi"


def test_a_stream_cut_mid_tool_call_keeps_the_partial_input() -> None:
    events = [
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "name": "Bash"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"command": "ls'},
        },
    ]
    (block,) = conversation.fold_stream(events)
    assert (block.kind, block.text) == ("tool_use", '{"command": "ls')


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b'{"error": {"type": "overloaded_error"}}', b"\xff\xfe"],
)
def test_bodies_without_a_reply_give_none(body: bytes) -> None:
    assert conversation.reply_message(body) is None


def test_truncated_request_body_gives_no_messages() -> None:
    cut = json.dumps({"messages": [{"role": "user", "content": "x" * 100}]})[:50].encode()
    assert conversation.build(cut, b"") == []
    assert conversation.pretty(cut).startswith('{"messages"')


def test_decode_body_tolerates_garbage() -> None:
    assert conversation.decode_body(None) == b""
    assert conversation.decode_body("!!!not base64") == b""


def test_a_body_nested_too_deep_to_decode_is_shown_as_text() -> None:
    # A client's captured body: the request's detail page raised RecursionError.
    deep = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    assert conversation.pretty(deep) == deep.decode()
    assert conversation.build(deep, b"") is not None
