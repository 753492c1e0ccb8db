"""lib.h1.head: the status line and the fields of one response head."""

import logging

import pytest

from lib.h1.errors import MalformedResponse
from lib.h1.head import parse_head


def head_of(*fields: bytes, status_line: bytes = b"HTTP/1.1 200 OK") -> bytes:
    return b"\r\n".join([status_line, *fields])


@pytest.mark.parametrize("status", [b"000 Zero", b"099 X", b"600 X", b"999 Weird", b"1000 X"])
def test_a_status_outside_100_to_599_is_malformed(status: bytes) -> None:
    # Relayed, 000 and 099 were an illegal status line to clients (which retried the
    # call), and 600 and 999 passed for server errors (retried, then relayed).
    with pytest.raises(MalformedResponse, match="bad status code"):
        parse_head(head_of(status_line=b"HTTP/1.1 " + status))


@pytest.mark.parametrize("status", [100, 103, 200, 529, 599])
def test_a_status_from_100_to_599_is_read(status: int) -> None:
    assert parse_head(head_of(status_line=b"HTTP/1.1 %d X" % status)).status == status


@pytest.mark.parametrize(
    "field",
    [
        b"bad name: x",  # not a token: Twisted refused to write the answer
        b"x/y: x",
        b"a@b: x",
        b"{x}: x",
        b"a;b: x",
        b"a=b: x",
        b"a,b: x",
        b"x-\xe9: x",
        b"(x)\x01: y",
        b"x-nul: a\x00b",  # clients refuse such a line (httpx: illegal header line)
        b"x-bell: a\x07b",
        b"x-del: a\x7fb",
        b"x-cr: a\rset-cookie: forged=1",
        b"x-lf: a\nx-injected: yes",
    ],
)
def test_a_field_that_could_not_be_relayed_is_left_out(field: bytes) -> None:
    head = parse_head(head_of(b"content-type: application/json", field, b"x-after: kept"))

    assert head.raw_headers == [(b"content-type", b"application/json"), (b"x-after", b"kept")]


def test_tabs_and_bytes_past_ascii_stay_in_a_value() -> None:
    head = parse_head(head_of(b"x-tab: a\tb", b"x-euro: \xe2\x82\xac"))

    assert head.raw_headers == [(b"x-tab", b"a\tb"), (b"x-euro", b"\xe2\x82\xac")]


@pytest.mark.parametrize(
    "field", [b"content-length: 2\x00", b"transfer-encoding: chunked\x01", b"connection: a\rb"]
)
def test_a_control_character_in_a_framing_field_is_malformed(field: bytes) -> None:
    # Left out, the body would be framed another way than the upstream meant.
    with pytest.raises(MalformedResponse, match="framing"):
        parse_head(head_of(field))


def test_a_field_left_out_is_logged_once_per_name_escaped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    block = head_of(b"x-logged-once\x1b[31m: x", b"x-logged-value: a\x00b", b"x-ok: 1")

    with caplog.at_level(logging.WARNING, logger="lib.h1.head"):
        parse_head(block)
        parse_head(block)

    assert [record.getMessage() for record in caplog.records] == [
        "upstream.header_dropped name=x-logged-once\\x1b[31m bad=name",
        "upstream.header_dropped name=x-logged-value bad=value",
    ]
