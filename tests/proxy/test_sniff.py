"""What proxy.sniff reads from a request body without parsing it, and when it parses."""

import pytest

from proxy import sniff


@pytest.mark.parametrize(
    ("body", "stream"),
    [
        (b'{"model": "m", "stream": true}', True),
        (b'{"model":"m","stream":false}', False),
        (b'{"model": "m"}', False),
        (b"", False),
        (b"not json", False),
        # A tool's input holding its own "stream" key: the body is parsed to be sure.
        (b'{"stream": true, "messages": [{"content": {"stream": false}}]}', True),
        (b'{"messages": [{"content": {"stream": true}}], "stream": false}', False),
        # Only a top-level true counts; an escaped key inside a string is not one.
        (b'{"stream": "true"}', False),
        (b'{"system": "say \\"stream\\": true", "model": "m"}', False),
    ],
)
def test_request_stream_reads_the_top_level_flag(body: bytes, stream: bool) -> None:
    assert sniff.request_stream(body) is stream


def test_request_model_still_reads_the_top_level_model() -> None:
    body = b'{"model": "claude-opus-4-1", "tools": [{"input": {"model": "other"}}]}'

    assert sniff.request_model(body) == "claude-opus-4-1"
