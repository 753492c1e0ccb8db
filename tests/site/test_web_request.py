"""ccflare_site.web_request: Twisted's and daphne's per-request steps, leaner but the same.

daphne's checks and answers on a real server are in test_server_hardening.py; here the
pieces that can be compared with the code they stand in for.
"""

import asyncio
import types

import daphne.http_protocol
import daphne.server
from hypothesis import given
from hypothesis import strategies as st
from twisted.web import http_headers

from ccflare_site import web_request


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
