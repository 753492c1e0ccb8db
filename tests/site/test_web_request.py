"""ccflare_site.web_request: Twisted's and daphne's per-request steps, leaner but the same.

daphne's checks and answers on a real server are in test_server_hardening.py; here the
pieces that can be compared with the code they stand in for.
"""

import asyncio
import types

import daphne.http_protocol
import daphne.server
import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import protocol
from twisted.internet.testing import StringTransport
from twisted.web import http, http_headers

from ccflare_site import http_channel, web_request


@given(value=st.one_of(st.binary(max_size=40), st.text(max_size=40)))
def test_a_header_value_is_stored_as_twisteds_sanitiser_gives_it(value: bytes | str) -> None:
    headers = http_headers.Headers()

    web_request.add_raw_header(headers, b"x-thing", value)

    encoded = value.encode("utf8") if isinstance(value, str) else value
    assert headers.getRawHeaders(b"x-thing") == [http_headers._sanitizeLinearWhitespace(encoded)]


def test_values_of_one_name_are_kept_in_order_under_twisteds_name() -> None:
    headers = http_headers.Headers()

    web_request.add_raw_header(headers, b"x-thing", b"first")
    web_request.add_raw_header(headers, "X-Thing", "second\r\nthird")

    assert list(headers.getAllRawHeaders()) == [(b"X-Thing", [b"first", b"second third"])]


def test_daphnes_modules_reach_twisteds_http_module_without_the_proxy() -> None:
    web_request.install()

    for module in (daphne.http_protocol, daphne.server):
        assert type(module.http) is types.ModuleType
        assert module.http.Request.__module__ == "twisted.web.http"


async def test_an_inbox_hands_over_messages_in_order_and_wakes_a_waiting_get() -> None:
    inbox = web_request.Inbox()
    inbox.put_nowait({"n": 1})
    assert await inbox.get() == {"n": 1}

    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    inbox.put_nowait({"n": 2})
    inbox.put_nowait({"n": 3})

    assert await waiting == {"n": 2}
    assert await inbox.get() == {"n": 3}
    assert inbox  # daphne tests the queue's truth before putting http.disconnect


async def test_a_get_cancelled_after_its_wake_up_passes_the_message_on() -> None:
    inbox = web_request.Inbox()
    first, second = asyncio.ensure_future(inbox.get()), asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)

    inbox.put_nowait({"type": "http.disconnect"})
    first.cancel()  # woken, but cancelled before it ran

    assert await asyncio.wait_for(second, timeout=5) == {"type": "http.disconnect"}
    assert first.cancelled()


def test_a_body_is_kept_in_memory_up_to_its_limit_and_the_rest_dropped() -> None:
    body = web_request.RequestBody(10)

    assert body.write(b"0123456") == 7
    assert body.write(b"789abc") == 6  # Twisted is told all was taken
    assert body.write(b"more") == 4

    assert body.getvalue() == b"0123456789"


@override_settings(MAX_BODY_MB=1)
async def test_a_large_body_reaches_the_app_whole_in_one_message_from_memory() -> None:
    channel = daphne_channel()
    body = b"x" * 300_000  # Twisted put 100 KB or more in a file on disk

    channel.dataReceived(
        b"POST /v1/messages HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )

    (request,) = channel.requests
    assert request.content.getvalue() == body  # in memory, not a file
    request.application_queue = web_request.Inbox()
    web_request._hand_over_body(request)
    assert await request.application_queue.get() == {
        "type": "http.request",
        "body": body,
        "more_body": False,
    }
    assert request.application_queue._messages == []  # nothing after it


@override_settings(MAX_BODY_MB=1)
def test_an_endless_upload_is_kept_only_to_one_byte_past_the_limit() -> None:
    channel = daphne_channel()
    channel.dataReceived(
        b"POST /v1/messages HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"y" * 65536
    for _ in range(40):  # 2.5 MB against a 1 MB limit
        channel.dataReceived(b"%x\r\n" % len(chunk) + chunk + b"\r\n")

    (request,) = channel.requests
    assert len(request.content.getvalue()) == 1024 * 1024 + 1


def daphne_channel() -> http_channel.GuardedChannel:
    """A connection as daphne serves it, whose requests stop short of the app."""
    web_request.install()
    channel = http_channel.GuardedChannel()
    channel.body_limit = web_request.body_limit()  # as tuning sets it from the settings
    channel.requestFactory = Recorded
    server = types.SimpleNamespace(protocol_connected=lambda request: None)
    channel.factory = types.SimpleNamespace(server=server)
    channel.makeConnection(StringTransport())
    return channel


class Recorded(daphne.http_protocol.WebRequest):
    """daphne's request, stopping short of the app: what the channel gave it is kept."""

    def process(self) -> None:
        pass


def test_a_connection_upgraded_to_a_websocket_leaves_the_deadline_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # daphne hands the socket to its websocket protocol, so the HTTP channel never hears
    # of the connection again (its connectionLost included): the sweep kept every
    # dashboard socket's channel, its request and headers, for the server's lifetime.
    monkeypatch.setattr(http_channel, "sweep", http_channel.DeadlineSweep())
    web_request.install()
    websocket = WebsocketProtocol()
    server = types.SimpleNamespace(
        protocol_connected=lambda request: None,
        protocol_disconnected=lambda request: None,
        ws_factory=types.SimpleNamespace(buildProtocol=lambda address: websocket),
        proxy_forwarded_address_header=None,
        root_path="",
    )
    channel = http_channel.GuardedChannel()
    channel.requestFactory = daphne.http_protocol.WebRequest  # as daphne's HTTPFactory sets it
    channel.factory = types.SimpleNamespace(server=server)
    transport = StringTransport()
    channel.makeConnection(transport)
    assert http_channel.sweep.channels == {channel}

    channel.dataReceived(
        b"GET /ws/dashboard/ HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\n\r\n"
    )

    assert transport.protocol is websocket  # daphne's handover happened
    assert websocket.received.startswith(b"GET /ws/dashboard/ HTTP/1.1")
    assert http_channel.sweep.channels == set()


class WebsocketProtocol(protocol.Protocol):
    """What daphne hands an upgraded connection to: here, keeps what it was given."""

    received = b""

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted's name)
        self.received += data


def test_the_statuses_the_proxy_relays_have_their_reason_phrase() -> None:
    web_request.install()

    # Twisted wrote "429 Unknown Status" and "529 Unknown Status" on the status line.
    assert [http.RESPONSES[code] for code in (429, 431, 529)] == [
        b"Too Many Requests",
        b"Request Header Fields Too Large",
        b"Overloaded",
    ]


def test_an_application_failing_once_its_answer_started_has_the_connection_closed() -> None:
    # daphne answered the exception with a 500 page: a second start, which raised in turn,
    # and the connection stayed open with the client waiting on it for ever.
    channel = daphne_channel()
    channel.dataReceived(b"GET /v1/models HTTP/1.1\r\nHost: h\r\n\r\n")
    (request,) = channel.requests
    start = {"type": "http.response.start", "status": 200, "headers": [(b"bad name", b"x")]}
    with pytest.raises(http_headers.InvalidHeaderName):
        request.handle_reply(start)  # taken as started, then refused

    request.handle_exception(ValueError("a bug"))  # what daphne does with the app's error

    assert channel.transport.disconnecting
    assert channel.transport.value() == b""  # cut: no half answer that looks whole
