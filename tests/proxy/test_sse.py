"""SSEParser: events come out the same however the byte stream is split."""

from pathlib import Path

import pytest

from proxy.sse import MAX_BUFFERED_BYTES, Event, SSEParser, WholeEvents

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sse"
STREAMS = ["text.txt", "thinking_tool_use.txt", "error.txt", "truncated.txt"]


def feed_all(chunks: list[bytes]) -> list[Event]:
    parser = SSEParser()
    return [event for chunk in chunks for event in parser.feed(chunk)]


def read_stream(name: str, line_end: bytes) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"\n", line_end)


def test_parses_captured_text_stream() -> None:
    events = feed_all([read_stream("text.txt", b"\n")])

    assert [event.event for event in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[5].data == (
        '{"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":" costs 3 € — enjoy 👋"}}'
    )


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("name", STREAMS)
def test_split_at_every_offset_yields_same_events(name: str, line_end: bytes) -> None:
    raw = read_stream(name, line_end)
    expected = feed_all([raw])

    results = [feed_all([raw[:offset], raw[offset:]]) for offset in range(len(raw) + 1)]

    assert len(expected) > 0
    assert results == [expected] * (len(raw) + 1)


@pytest.mark.parametrize("name", STREAMS)
def test_one_byte_chunks_yield_same_events(name: str) -> None:
    raw = read_stream(name, b"\r\n")

    assert feed_all([raw[i : i + 1] for i in range(len(raw))]) == feed_all([raw])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"event: a\ndata: 1\n\n", [Event("a", "1")]),
        (b"event: a\r\ndata: 1\r\n\r\n", [Event("a", "1")]),
        (b"event: a\rdata: 1\r\r", [Event("a", "1")]),
        (b"event: a\r\ndata: 1\n\r", [Event("a", "1")]),
        (b"data: only data\n\n", [Event("message", "only data")]),
        (b"event:\ndata: x\n\n", [Event("message", "x")]),
        (b"data: first\ndata: second\ndata:\n\n", [Event("message", "first\nsecond\n")]),
        (b"data:no space\n\n", [Event("message", "no space")]),
        (b"data:  two spaces\n\n", [Event("message", " two spaces")]),
        (b"data\n\n", [Event("message", "")]),
        (b": keep-alive\n\n", []),
        (b": comment\nid: 7\nretry: 1000\ndata: x\n: more\n\n", [Event("message", "x")]),
        (b"event: ping\n\n", []),
        (
            b"\n\n\nevent: a\ndata: 1\n\n\n\nevent: b\ndata: 2\n\n",
            [Event("a", "1"), Event("b", "2")],
        ),
        (b"event: a\ndata: 1\n", []),
        (b"data: caf\xc3\xa9 \xff\n\n", [Event("message", "café \ufffd")]),
        (b"event: \xffa\ndata: 1\n\n", [Event("\ufffda", "1")]),
    ],
    ids=[
        "lf",
        "crlf",
        "cr",
        "mixed-line-ends",
        "no-event-line",
        "empty-event-name",
        "multi-line-data",
        "no-space-after-colon",
        "only-one-space-stripped",
        "field-without-colon",
        "comment-only",
        "comments-id-retry",
        "no-data-line",
        "extra-blank-lines",
        "no-blank-line-yet",
        "invalid-utf8-replaced",
        "invalid-utf8-event-name-replaced",
    ],
)
def test_parses_stream(raw: bytes, expected: list[Event]) -> None:
    assert feed_all([raw]) == expected


@pytest.mark.parametrize("offset", [7, 8, 9, 10, 11])
def test_split_inside_multibyte_character(offset: int) -> None:
    raw = "data: é👋\n\n".encode()  # é is bytes 6-7, 👋 bytes 8-11

    assert feed_all([raw[:offset], raw[offset:]]) == [Event("message", "é👋")]


def test_cr_then_lf_in_next_chunk_is_one_line_end() -> None:
    parser = SSEParser()

    first = parser.feed(b"data: 1\r")
    second = parser.feed(b"\n")
    third = parser.feed(b"\r\n")

    assert (first, second, third) == ([], [], [Event("message", "1")])


def test_a_cr_waits_for_its_lf_in_the_next_chunk_only() -> None:
    # The LF after "\r" pairs with it; the next LF is a line end of its own.
    assert feed_all([b"data: 1\r", b"\n", b"\n"]) == [Event("message", "1")]


def test_holds_an_unfinished_event_until_it_ends() -> None:
    parser = SSEParser()

    first = parser.feed(b"event: a\ndata: 1\n\nevent: b\ndata: 2")
    events = parser.feed(b"\n\n")

    assert first == [Event("a", "1")]
    assert events == [Event("b", "2")]
    assert parser.feed(b"\n\n") == []  # nothing was left behind


def test_keeps_buffer_up_to_cap() -> None:
    parser = SSEParser()
    line = b"data: " + b"x" * (MAX_BUFFERED_BYTES - 6)

    assert parser.feed(line) == []
    assert parser.feed(b"\n\n") == [Event("message", "x" * (MAX_BUFFERED_BYTES - 6))]


@pytest.mark.parametrize("tail", [b"xyz\n\n", b"xyz\n", b"\n"], ids=["rest", "rest-lf", "lf"])
def test_drops_oversized_event_and_resumes_after_it(tail: bytes) -> None:
    parser = SSEParser()

    before = parser.feed(b"event: ping\ndata: {}\n\nevent: big\ndata: " + b"x" * MAX_BUFFERED_BYTES)
    after = parser.feed(tail) + parser.feed(b"\nevent: next\ndata: 1\n\n")

    assert before == [Event("ping", "{}")]
    assert after == [Event("next", "1")]


OVERSIZED = b"event: big\ndata: " + b"x" * MAX_BUFFERED_BYTES
NEXT = b"event: next\ndata: 1\n\n"


@pytest.mark.parametrize(
    "chunks",
    [
        # The cap is passed right after a line end; the next chunk's LF ends the event.
        [OVERSIZED + b"\n", b"\n" + NEXT],
        # The next chunk only ends the line: its data line still belongs to the big event.
        [OVERSIZED, b"\ndata: leaked\n\n", NEXT],
        # The big event goes on over more chunks before its blank line.
        [OVERSIZED, b"x\n", b"data: leaked\n\n", NEXT],
        [OVERSIZED, b"x", b"\ndata: leaked\n\n", NEXT],
        [OVERSIZED, b"x\ndata: leaked\n", b"\n", NEXT],
    ],
    ids=["lf-then-lf", "line-end-then-data", "more-lines", "more-text", "lf-in-next-chunk"],
)
def test_nothing_of_a_dropped_event_leaks_wherever_its_chunks_split(chunks: list[bytes]) -> None:
    assert feed_all(chunks) == [Event("next", "1")]


@pytest.mark.parametrize("split", [0, 1, 2, 3, 5])
def test_a_byte_order_mark_before_the_stream_is_skipped(split: int) -> None:
    raw = b"\xef\xbb\xbfevent: message_start\ndata: {}\n\n"
    assert feed_all([raw[:split], raw[split:]]) == [Event("message_start", "{}")]


def test_a_byte_order_mark_later_in_the_stream_is_data() -> None:
    events = feed_all([b"event: a\ndata: 1\n\n", b"\xef\xbb\xbfdata: 2\n\n"])
    assert events == [Event("a", "1")]  # the field "\ufeffdata" is no field of SSE's


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("name", STREAMS)
def test_whole_events_relays_every_byte_in_order_at_event_ends(name: str, line_end: bytes) -> None:
    raw = read_stream(name, line_end)
    for size in (1, 7, 100, len(raw)):
        events, relayed = WholeEvents(), []
        for at in range(0, len(raw), size):
            relayed.append(events.take(raw[at : at + size]))
        relayed.append(events.rest())
        assert b"".join(relayed) == raw
        # Each piece relayed before the end stops at an event's end.
        for piece in relayed[:-1]:
            assert not piece or piece.endswith((b"\n\n", b"\r\n\r\n", b"\r\r"))


def test_whole_events_holds_back_an_event_until_its_end() -> None:
    events = WholeEvents()
    assert events.take(b'event: a\ndata: 1\n\nevent: b\ndata: {"t') == b"event: a\ndata: 1\n\n"
    assert events.take(b'ype": 2}') == b""
    assert events.take(b"\n\n") == b'event: b\ndata: {"type": 2}\n\n'
    assert events.rest() == b""


def test_whole_events_passes_on_what_never_ends_an_event() -> None:
    events = WholeEvents()
    assert events.take(b"x" * 10) == b""
    assert events.take(b"y" * MAX_BUFFERED_BYTES) == b"x" * 10 + b"y" * MAX_BUFFERED_BYTES
