"""A scripted HTTP/1.1 server for the client's tests: each test says how it answers.

Each server gets a `respond(request, writer)` coroutine: what it writes back (and
whether it closes) is the test's scenario. The server notes every connection and request,
so reuse is seen from the server's side too. The `serve` fixture (conftest.py) starts them.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    connection: int  # which server-side connection it came on (0, 1, ...)
    head: bytes
    body: bytes

    @property
    def line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    @property
    def header_lines(self) -> list[bytes]:
        return self.head.split(b"\r\n")[1:]


Respond = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    respond: Respond
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    ended: int = 0  # connections the client closed (or that failed)

    def url(self, path: str = "/v1/messages") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number, self.connections = self.connections, self.connections + 1
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while not writer.is_closing():
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = Request(number, head[:-4], await reader.readexactly(length))
                self.requests.append(request)
                await self.respond(request, writer)
        self.ended += 1
