"""Opening the upstream client's connections: URL origins, a DNS cache, TCP and TLS, timeouts.

Only a new connection comes here; the pool (pool.py) reuses them. A name is resolved once
per DNS_TTL_SECONDS (aiohttp's `ttl_dns_cache`, which the proxy used before): a burst of new
connections then costs no resolver round trip each, and the addresses are tried in order.
"""

import asyncio
import errno
import functools
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from lib.h1.errors import ConnectFailed, ConnectionRefused, ConnectTimeout, OutOfResources
from lib.h1.protocol import Connection

DNS_TTL_SECONDS = 300.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a new socket (or a name lookup's) fails with when this host, not the network, is
# short: descriptors of the process or the system, or kernel memory for socket buffers.
_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int
    host_header: str


def split_url(url: str) -> tuple[str, str, str]:
    """(scheme, netloc, target) of an absolute URL; the target stays exactly as given."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _DEFAULT_PORTS:
        raise ValueError("only absolute http:// and https:// URLs are supported")
    cut = len(rest)
    for mark in "/?":
        found = rest.find(mark)
        if 0 <= found < cut:
            cut = found
    target = rest[cut:]
    if target.startswith("?"):
        target = "/" + target
    return scheme, rest[:cut], target or "/"


def parse_origin(scheme: str, netloc: str) -> Origin:
    if "@" in netloc or not netloc:
        raise ValueError("a URL with credentials or without a host is not supported")
    host, port = netloc, _DEFAULT_PORTS[scheme]
    if netloc.startswith("["):  # an IPv6 literal
        close = netloc.find("]")
        host, after = netloc[1:close], netloc[close + 1 :]
        if after.startswith(":"):
            port = int(after[1:])
    elif ":" in netloc:
        host, _, digits = netloc.rpartition(":")
        port = int(digits)
    return Origin(scheme, host, port, netloc)


class Connector:
    """Opens connections to origins within the connect timeout; raises ConnectFailed kinds."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout: float | None,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.loop = loop
        self.timeout = timeout
        self._tls = tls
        self._addresses: dict[Origin, tuple[float, list[str]]] = {}

    async def open(self, origin: Origin, protocol: Callable[[], Connection]) -> Connection:
        try:
            async with asyncio.timeout(self.timeout):
                addresses = await self._resolve(origin)
                conn = await self._first_reachable(origin, addresses, protocol)
        except TimeoutError:
            raise ConnectTimeout(f"no connection to {origin.host_header} in time") from None
        except ConnectionRefusedError:
            raise ConnectionRefused(f"{origin.host_header} refused the connection") from None
        except OSError as exc:  # DNS, unreachable, TLS (ssl.SSLError is an OSError)
            if _exhausted(exc):
                raise OutOfResources(_errno_words(exc)) from None
            raise ConnectFailed(f"{origin.host_header}: {type(exc).__name__}") from None
        _no_delay(conn)
        return conn

    async def _resolve(self, origin: Origin) -> list[str]:
        cached = self._addresses.get(origin)
        if cached is not None and cached[0] > self.loop.time():
            return cached[1]
        infos = await self.loop.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self._addresses[origin] = (self.loop.time() + DNS_TTL_SECONDS, addresses)
        return addresses

    async def _first_reachable(
        self, origin: Origin, addresses: list[str], protocol: Callable[[], Connection]
    ) -> Connection:
        tls = self._tls_context() if origin.scheme == "https" else None
        failure: OSError | None = None
        for address in addresses:
            try:
                _, conn = await self.loop.create_connection(
                    protocol,
                    address,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls is not None else None,
                )
                return conn
            except OSError as exc:
                if _exhausted(exc):
                    # The next address needs a socket too; and the cached name is kept, as
                    # looking it up again would need one.
                    raise
                failure = exc
        # None answered: the name may have moved, so the next connect resolves it again.
        self._addresses.pop(origin, None)
        raise failure or OSError("no address")

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = default_tls()
        return self._tls


def _exhausted(exc: OSError) -> bool:
    # An SSLError's errno is OpenSSL's own code, not the system's.
    return exc.errno in _EXHAUSTED and not isinstance(exc, ssl.SSLError)


def _errno_words(exc: OSError) -> str:
    """'EMFILE: Too many open files' (the code names it for the operator, the words for all)."""
    code = exc.errno or 0
    return f"{errno.errorcode.get(code, str(code))}: {os.strerror(code)}"


@functools.cache
def default_tls() -> ssl.SSLContext:
    """The system's trust store, loaded once for every pool (loading it costs tens of ms)."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def _no_delay(conn: Connection) -> None:
    # A request is one write and the answer is awaited: Nagle would only add delay.
    sock = conn.transport.get_extra_info("socket") if conn.transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
