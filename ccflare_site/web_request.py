"""daphne's and Twisted's per-request steps, the same but leaner (docs/performance.md).

- daphne's `WebRequest.process` is an `inlineCallbacks` generator whose one `yield` is a
  `maybeDeferred` around `Server.create_application`, a plain function: per request that
  builds a generator, two Deferreds and their callback chains for nothing, about 3% of
  the server's CPU under load. `process` below takes the same steps in the same order,
  with the same answers to a bad request, and calls the function directly. Upgrade
  requests (websockets) keep daphne's own method; a connection it hands to its websocket
  protocol is then let go of by its HTTP channel (the channel hears nothing of it again).
- Each request's scope carries a future that resolves when its client goes before the
  answer is finished (`CLIENT_GONE` in `scope["extensions"]`): the proxy's handler
  watches it instead of running a second task per request that waits on `receive()`
  for daphne's `http.disconnect`.
- daphne gives every request an `asyncio.Queue` (three deques and an Event: about 3 KB
  per open stream, and time to make) for the one or two messages it ever holds, the
  body and `http.disconnect`; a plain HTTP request gets an Inbox instead.
- daphne reaches Twisted's HTTP classes through `twisted.web.http`, which Twisted wraps
  in a deprecation proxy whose every attribute read runs Python code (2% of the CPU);
  daphne's modules are given the module itself.
- daphne hashes its requests (keys of `Server.connections`, read about 16 times per
  request) with a Python `__hash__` of the object's id; object's own hash is the same
  rule in C.
- Twisted's `Headers.addRawHeader` replaces line breaks in every value it stores, with a
  split and a join even when there are none: it now does so only when there are.
- Twisted writes a request body of 100 KB or more (most of Claude Code's) to a temporary
  file on disk, however large it grows, and daphne read it back in 8 KB messages. A body
  is now kept in memory up to one byte past MAX_BODY_MB (the proxy answers 413 past the
  limit, and the record is kept); what a client sends beyond that is dropped, so an
  endless upload fills neither memory nor the disk. It reaches the app in one message.
- A body message carrying `lib.asgi.ABORT` closes the client's connection instead of
  ending the answer: ASGI has no way to say an answer was cut, and ended normally a cut
  one looks complete (chunked) or leaves the client waiting for its Content-Length. An
  application that fails once its answer has started has it cut the same way (daphne
  tried a second start, which raised, and left the connection open).
"""

import asyncio
import logging
import re
import time
import traceback
from functools import partial
from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import unquote

import daphne.http_protocol
import daphne.server
from daphne.http_protocol import WebRequest
from daphne.utils import HEADER_NAME_RE, INVALID_HEADER_VALUE_BYTES, parse_x_forwarded_for
from django.conf import settings
from twisted.web import http as twisted_http
from twisted.web import http_headers

from ccflare_site import reaping
from lib.asgi import ABORT, CLIENT_GONE

# daphne's own logger: its messages keep their name.
logger = logging.getLogger("daphne.http_protocol")

_valid_name = HEADER_NAME_RE.fullmatch
# daphne tests a value's bytes one by one against a set; the same set as one search.
_invalid_value = re.compile(
    b"[" + re.escape(bytes(sorted(INVALID_HEADER_VALUE_BYTES))) + b"]"
).search


def install() -> None:
    if getattr(WebRequest.process, "lean", False):
        return
    _name_every_status()
    for module in (daphne.http_protocol, daphne.server):
        module.http = _unproxied(module.http)
    WebRequest.__hash__ = object.__hash__
    http_headers.Headers.addRawHeader = add_raw_header  # type: ignore[method-assign]
    WebRequest.gotLength = got_length
    daphne_process = WebRequest.process

    def process(self: WebRequest) -> Any:
        if self.requestHeaders.hasHeader(b"upgrade") and not _for_the_proxy(self):
            channel = self.channel
            result = daphne_process(self)
            if self.transport is None:  # daphne gave the socket to its websocket protocol
                handed_over = getattr(channel, "handed_over", None)
                if handed_over is not None:
                    handed_over()
            return result
        return process_http(self)

    process.lean = True  # type: ignore[attr-defined]
    WebRequest.process = process
    daphne_connection_lost = WebRequest.connectionLost

    def connection_lost(self: WebRequest, reason: Any) -> None:
        # Twisted tells only the requests not yet finished: this client left mid-request.
        gone = getattr(self, "client_gone", None)
        if gone is not None and not gone.done():
            gone.set_result(None)
        daphne_connection_lost(self, reason)

    WebRequest.connectionLost = connection_lost
    WebRequest.handle_exception = handle_exception


def handle_exception(self: WebRequest, exception: BaseException) -> None:
    """daphne's answer to an application's exception (a 500 page), unless the answer has
    started: a second start raises, and the client then waited for ever on a connection
    nobody closed. Such an answer is cut instead."""
    if not self._response_started:
        self.basic_error(500, b"Internal Server Error", "Exception inside application.")
    elif not self.finished:
        _abort(self)


def _for_the_proxy(request: WebRequest) -> bool:
    """Whether the request is one for /v1/ (decoded, as asgi.http_app routes it).

    An upgrade there is not daphne's to take: its websocket protocol answered a bare
    "403 Access denied", not in Anthropic's shape and never recorded. As plain HTTP the
    proxy's guard refuses it like any other request it will not forward.
    """
    return unquote(request.path.decode("latin-1")).startswith("/v1/")


def _name_every_status() -> None:
    """Reason phrases for the statuses Twisted lacks: it wrote '429 Unknown Status'.

    529 is Anthropic's own "overloaded", which the proxy relays.
    """
    for status in HTTPStatus:
        twisted_http.RESPONSES.setdefault(status.value, status.phrase.encode())
    twisted_http.RESPONSES.setdefault(529, b"Overloaded")


def _unproxied(module: Any) -> Any:
    """The module inside Twisted's deprecation proxy (the module itself if it has none)."""
    try:
        return object.__getattribute__(module, "_module")
    except AttributeError:
        return module


class RequestBody(BytesIO):
    """A request body in memory, kept up to `limit` bytes; the rest is dropped."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: Any) -> int:
        room = self.limit - self.tell()
        if room > 0:
            super().write(data if len(data) <= room else data[:room])
        return len(data)


def got_length(self: WebRequest, length: int | None) -> None:
    """Twisted's Request.gotLength: where the body goes (in memory, capped: see above).

    A declared length within the limit is all Twisted will write: a plain BytesIO then.
    The limit is the channel's, read from the settings once at start (tuning).
    """
    limit = self.channel.body_limit
    self.content = BytesIO() if length is not None and length <= limit else RequestBody(limit)


def body_limit() -> int:
    # One byte past the limit: enough for the proxy to see the body is too large.
    return settings.MAX_BODY_MB * 1024 * 1024 + 1


# Single bytes tested as integers: for `b"x" in data`, CPython first tries the needle as
# an integer, and the TypeError it raises and clears costs ten times the search (0.1 µs;
# twenty headers a request). `ord("x") in data` is one memchr.
_CR, _LF, _QUESTION_MARK, _UNDERSCORE = b"\r\n?_"


def add_raw_header(self: http_headers.Headers, name: str | bytes, value: str | bytes) -> None:
    """Twisted's Headers.addRawHeader, sanitising a value only when it has a line break.

    `_sanitizeLinearWhitespace` joins the value's lines with spaces; bytes split into
    lines only at CR and LF, so a value without either is already what it returns.
    """
    if isinstance(value, str):
        value = value.encode("utf8")
    if _CR in value or _LF in value:
        value = http_headers._sanitizeLinearWhitespace(value)
    # The encoder's own cache first: a name seen before costs one lookup, not a method call.
    canonical = _canonical_names.get(name) or http_headers._nameEncoder.encode(name)
    self._rawHeaders.setdefault(canonical, []).append(value)


_canonical_names = http_headers._nameEncoder._canonicalHeaderCache


def process_http(request: Any) -> None:
    """daphne's WebRequest.process for a request without an Upgrade header, step for step."""
    try:
        request.request_start = time.time()
        if not _valid_headers(request):
            return
        _note_addresses(request)
        try:
            request.path.decode("ascii")
        except UnicodeDecodeError:
            request.path = b"/"
            request.basic_error(400, b"Bad Request", "Invalid characters in path")
            return
        request.query_string = b""
        if _QUESTION_MARK in request.uri:
            request.query_string = request.uri.split(b"?", 1)[1]
            try:
                request.query_string.decode("ascii")
            except UnicodeDecodeError:
                request.basic_error(400, b"Bad Request", "Invalid query string")
                return
        _clean_headers(request)
        logger.debug("HTTP %s request for %s", request.method, request.client_addr)
        request.client_gone = asyncio.get_running_loop().create_future()
        request.application_queue = create_application(request.server, request, _scope(request))
        if request.application_queue is None or request.content.closed:
            return  # the client closed before its request was taken
        _hand_over_body(request)
    except Exception:
        logger.error(traceback.format_exc())
        request.basic_error(500, b"Internal Server Error", "Daphne HTTP processing error")


def _valid_headers(request: Any) -> bool:
    """daphne's header-name and header-value checks; answers 400 and says False on a bad one."""
    for name, values in request.requestHeaders.getAllRawHeaders():
        if not _valid_name(name):
            request.basic_error(400, b"Bad Request", "Invalid header name")
            return False
        for value in values:
            if _invalid_value(value):
                request.basic_error(400, b"Bad Request", "Invalid header value")
                return False
    return True


def _note_addresses(request: Any) -> None:
    client = request.client
    if hasattr(client, "host") and hasattr(client, "port"):
        request.client_addr = [str(client.host), client.port]
        request.server_addr = [str(request.host.host), request.host.port]
    request.client_scheme = "https" if request.isSecure() else "http"
    server = request.server
    if server.proxy_forwarded_address_header:
        request.client_addr, request.client_scheme = parse_x_forwarded_for(
            request.requestHeaders,
            server.proxy_forwarded_address_header,
            server.proxy_forwarded_port_header,
            server.proxy_forwarded_proto_header,
            request.client_addr,
            request.client_scheme,
        )


def _clean_headers(request: Any) -> None:
    """Names lowered, names with `_` dropped (CVE-2015-0219), daphne-root-path taken out."""
    request.clean_headers = clean = []
    request.root_path = request.server.root_path
    for name, values in request.requestHeaders.getAllRawHeaders():
        if _UNDERSCORE in name:
            continue
        lower = name.lower()
        for value in values:
            if lower == b"daphne-root-path":
                request.root_path = unquote(value.decode("ascii"))
            else:
                clean.append((lower, value))


def _scope(request: Any) -> dict:
    return {
        "type": "http",
        "http_version": request.clientproto.split(b"/")[-1].decode("ascii"),
        "method": request.method.decode("ascii"),
        "path": unquote(request.path.decode("ascii")),
        "raw_path": request.path,
        "root_path": request.root_path,
        "scheme": request.client_scheme,
        "query_string": request.query_string,
        "headers": request.clean_headers,
        "client": request.client_addr,
        "server": request.server_addr,
        "extensions": {CLIENT_GONE: request.client_gone},
    }


def _hand_over_body(request: Any) -> None:
    # The whole body is in memory (got_length): one message, not daphne's one per 8 KB.
    request.application_queue.put_nowait(
        {"type": "http.request", "body": request.content.getvalue(), "more_body": False}
    )


def create_application(server: Any, request: Any, scope: dict) -> "Inbox | None":
    """daphne's Server.create_application for a plain HTTP request, with an Inbox as its queue.

    None when the client left meanwhile, as in daphne.
    """
    assert "application_instance" not in server.connections[request]
    inbox = Inbox()
    scope.setdefault("asgi", {"version": "3.0"})
    instance = server.application(
        scope=scope, receive=inbox.get, send=partial(_send_paced, server, request)
    )
    if request not in server.connections:
        instance.close()  # never run: no "was never awaited" warning
        return None
    task = asyncio.get_running_loop().create_task(instance)  # ensure_future's checks skipped
    server.connections[request]["application_instance"] = task
    reaping.watch(server, request, task)
    return inbox


async def _send_paced(server: Any, request: Any, message: dict) -> None:
    """daphne's send, which then waits while the client has too much unread.

    Twisted takes every write at once and buffers what the socket does not: a client
    that stops reading an SSE stream, or a proxied stream it asked for, made the server
    hold everything sent to it since (1.5 GB in an audit). Waiting here holds back the
    sender instead: the proxy's relay stops reading the upstream, a live stream stops
    taking events (its channel queue is bounded).
    """
    # daphne's Server.handle_reply, inline: one coroutine less per message.
    connection = server.connections.get(request)
    if connection is None or connection.get("disconnected"):
        return
    if message["type"] != "http.response.body":
        try:
            server.check_headers_type(message)
        except ValueError:
            request.basic_error(500, b"Server Error", "Server Error")  # SOME reply, as daphne
            raise
        request.handle_reply(message)
        return  # a head is small: only bodies add up
    if message.get(ABORT):
        _abort(request)
        return
    request.handle_reply(message)
    # PromptServer's (ccflare_site.prompt_writes), the transport of every TCP connection.
    over_high_water = getattr(request.transport, "over_high_water", None)
    if over_high_water is not None and over_high_water():
        await request.transport.drained()


def _abort(request: Any) -> None:
    """Close the connection without ending the answer (what is buffered goes first)."""
    if request.channel is not None:  # else gone already
        # The channel's own: it first lets go of the transport's producer registration,
        # without which a connection whose writes had been held back never closed.
        request.loseConnection()


class Inbox:
    """The messages waiting for one request's application: asyncio.Queue's put_nowait and get.

    Always true, like the Queue it stands in for (daphne tests `if request.application_queue`).
    """

    __slots__ = ("_messages", "_getters")

    def __init__(self) -> None:
        self._messages: list[dict] = []
        self._getters: list[asyncio.Future[None]] = []

    def put_nowait(self, message: dict) -> None:
        self._messages.append(message)
        self._wake_next()

    async def get(self) -> dict:
        while not self._messages:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                # As asyncio.Queue.get: a getter woken and then cancelled passes its turn on.
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                if self._messages and not getter.cancelled():
                    self._wake_next()
                raise
        return self._messages.pop(0)

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return
