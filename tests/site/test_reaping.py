"""Finished requests leave daphne's connection map at once (ccflare_site.reaping).

On daphne's own Server, without its once-a-second sweep: each test drives the two
events a request's end is made of (its application finishing, its response being
done) in both orders and checks what the map still holds.
"""

import asyncio
import logging

import pytest
from daphne.server import Server

from ccflare_site import reaping

reaping.reap_finished_requests()  # what tuning.tune() does when the app loads
# Only stored: nothing listens until Server.run(), which these tests never call.
ENDPOINTS = ["tcp:port=0:interface=127.0.0.1"]


def make_server(app) -> Server:  # type: ignore[no-untyped-def]
    server = Server(application=app, endpoints=ENDPOINTS)
    server.connections = {}  # set by run() otherwise
    return server


class Protocol:
    """What daphne's server needs of a request's protocol here."""

    def __init__(self) -> None:
        self.exceptions: list[BaseException] = []

    def handle_exception(self, exception: BaseException) -> None:
        self.exceptions.append(exception)


def run_request(app, *, disconnect_first: bool) -> tuple[Server, Protocol]:  # type: ignore[no-untyped-def]
    server = make_server(app)
    protocol = Protocol()

    async def scenario() -> None:
        server.protocol_connected(protocol)
        if disconnect_first:
            server.create_application(protocol, {"type": "http"})
            server.protocol_disconnected(protocol)
            await asyncio.sleep(0.01)
        else:
            server.create_application(protocol, {"type": "http"})
            await asyncio.sleep(0.01)
            assert protocol in server.connections  # the response is not done yet
            server.protocol_disconnected(protocol)

    asyncio.run(scenario())
    return server, protocol


async def finishes(scope: dict, receive: object, send: object) -> None:
    await asyncio.sleep(0)


async def fails(scope: dict, receive: object, send: object) -> None:
    raise ValueError("a bug")


@pytest.mark.parametrize("disconnect_first", [True, False])
def test_a_finished_request_is_let_go_at_once(disconnect_first: bool) -> None:
    server, _ = run_request(finishes, disconnect_first=disconnect_first)

    assert server.connections == {}


def test_an_application_still_running_is_kept() -> None:
    server = make_server(finishes)
    protocol = Protocol()

    async def scenario() -> None:
        server.protocol_connected(protocol)
        server.create_application(protocol, {"type": "http"})
        server.protocol_disconnected(protocol)
        assert protocol in server.connections
        await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert server.connections == {}


def test_an_application_error_is_logged_once_and_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = make_server(fails)
    protocol = Protocol()

    async def scenario() -> None:
        server.protocol_connected(protocol)
        server.create_application(protocol, {"type": "http"})
        await asyncio.sleep(0.01)

    with caplog.at_level(logging.ERROR, logger="daphne.server"):
        asyncio.run(scenario())

    assert [str(e) for e in protocol.exceptions] == ["a bug"]
    assert [r.getMessage() for r in caplog.records] == ["Exception inside application: a bug"]
    server.protocol_disconnected(protocol)
    assert server.connections == {}
