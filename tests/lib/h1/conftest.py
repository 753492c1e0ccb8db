"""The upstream client's tests run on both event loops: the standard library's, and uvloop,
which the server runs on (ccflare_site/daphne_main.py). The hook applies to this folder only."""

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import pytest
import uvloop

from tests.lib.h1.scripted import Respond, Server


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"asyncio": asyncio.SelectorEventLoop, "uvloop": uvloop.new_event_loop}


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    started: list[tuple[asyncio.Server, Server]] = []

    async def start(respond: Respond, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(respond)
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
        server.port = listener.sockets[0].getsockname()[1]
        started.append((listener, server))
        return server

    yield start
    for listener, server in started:
        listener.close()
        for writer in server.writers:
            writer.close()
