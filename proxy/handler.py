"""The lean ASGI handler for /v1/ (docs/architecture.md): the proxy's only entry point.

It runs ahead of Django's request cycle on purpose: the body is opaque, must pass
through byte for byte, and Django's per-request machinery measured about 1.6 ms.
"""

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable

from django.conf import settings

from access import clientkeys
from agents import override as agent_override
from analytics.models import Request
from analytics.operations import logs
from analytics.recording.write_behind import RequestRecord, recorder
from lib import ids
from lib.asgi import ABORT, CLIENT_GONE
from lib.h1 import Response, SlowFraming, UpstreamError
from lib.hot_settings import hot
from proxy import background, capture, guard, keypolicy, replies, sniff, upstream
from proxy.attempts import trace
from proxy.failover import Call, Outcome, forward
from proxy.sse import SSEParser, WholeEvents
from proxy.usage import UsageTracker

logger = logging.getLogger(__name__)

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

# A non-streaming reply up to this size is read whole before it is relayed (a cut one is
# then a clean 502); Messages replies are well under a MB even at 128K output tokens.
WHOLE_REPLY_BYTES = 8 * 1024 * 1024
# Answers that never have a body, so never a Content-Length (RFC 9110 §8.6).
_NO_BODY_STATUSES = frozenset({204, 304})


class BodyTooLarge(Exception):
    pass


class Disconnected(Exception):
    pass


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """One /v1/ request (serve), counted among those in flight until it ends."""
    exchange = Exchange(scope)
    try:
        await serve(exchange, receive, send)
    finally:
        exchange.stop_counting()


async def serve(exchange: "Exchange", receive: Receive, send: Send) -> None:
    """Relay one /v1/ request upstream and its response back, and record it.

    1. Check path, Host and Origin (guard): 400/403 before anything is sent.
    2. Check the client key when client keys are on: 401 without a valid one.
    3. Read the (bounded) body: 413 past MAX_BODY_MB, nothing forwarded; then the
       key's model rules (403) and budgets (429), when it has any (keypolicy).
    4. Get an upstream response through the account pool (failover.forward).
    5. Relay status and headers, then each body chunk as it arrives, feeding
       the SSE parser and the capture on the side.
    6. Record the request exactly once, whatever happened (finish).
    """
    background.ensure_started()
    scope = exchange.scope
    admission = guard.admit(scope)
    if isinstance(admission, guard.Refusal):
        await exchange.reply_error(send, admission.status, admission.error_type, admission.message)
        return exchange.finish()
    exchange.forward_path, exchange.cors = admission.path, admission.cors
    if admission.preflight:
        await exchange.reply_preflight(send)
        return exchange.finish()
    grant = await clientkeys.cache.authorize(scope["headers"])
    if grant is None:
        if not clientkeys.cache.read:
            await exchange.reply_error(send, 503, "api_error", _KEYS_UNREAD)
        else:
            await exchange.reply_error(send, 401, "authentication_error", _NEEDS_CLIENT_KEY)
        return exchange.finish()
    exchange.record.client_key_id = grant.key_id
    exchange.strip = grant.strip | admission.hop_by_hop if admission.hop_by_hop else grant.strip
    try:
        body = await read_body(scope, receive)
    except BodyTooLarge:
        await exchange.reply_error(send, 413, "request_too_large", _too_large_message())
        return exchange.finish()
    except Disconnected:
        exchange.record.terminal_state = Request.Terminal.CLIENT_CANCELLED
        return exchange.finish()
    exchange.capture_request(body)
    if _looks_malformed(scope, body):
        await exchange.reply_error(
            send, 400, "invalid_request_error", "Request body must be a JSON object"
        )
        return exchange.finish()
    # The agent's model first: a key's model rules judge the model that would be used.
    body = await agent_override.apply(body, exchange.record)
    if grant.policy is not None:
        refusal = await keypolicy.check(grant.policy, exchange.record.id, body)
        if refusal is not None:
            # The per-key views and /metrics show the refusal against the model asked for.
            exchange.usage.model = refusal.model
            exchange.record.is_stream = sniff.request_stream(body)
            await exchange.reply_error(
                send, refusal.status, refusal.error_type, refusal.message, refusal.headers
            )
            return exchange.finish()
    await exchange.run(body, receive, send)


def record_refusal(
    method: str,
    path: str,
    status: int | None,
    message: str,
    terminal: str = Request.Terminal.REJECTED,
) -> None:
    """A /v1/ request that ended before it reached the proxy (ccflare_site.http_channel):
    refused by the server (a head too large or malformed, too slow to arrive), recorded
    as `rejected` like the proxy's own refusals, or left by its client mid-body; so that
    it shows on the dashboard and in the stats too."""
    background.ensure_started()
    recorder.enqueue(
        RequestRecord(
            id=ids.uuid7_text(),
            started_at=time.time(),
            method=method,
            path=path,
            status_code=status,
            error_message=message,
            terminal_state=terminal,
        )
    )


class Exchange:
    """One client request's state from start to record."""

    # The body forwarded upstream (after an agent's model), set by `run`: what the record
    # says when no answer did (`_from_request`).
    body: bytes

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.t0 = time.perf_counter()
        self.record = RequestRecord(
            id=ids.uuid7_text(),
            started_at=time.time(),
            method=scope["method"],
            path=scope["path"],
        )
        self.usage = UsageTracker()
        self.response_capture = capture.BodyCapture(hot.PAYLOAD_CAPTURE_MAX_KB * 1024)
        self.completed = False
        # The client-key header, when client keys are on: never forwarded upstream.
        self.strip: frozenset[str] = frozenset()
        self.started = False  # response start handed to the server (taken or not)
        self.forward_path = scope["path"]  # replaced by the guard's validated raw path
        self.cors: tuple[tuple[bytes, bytes], ...] = ()
        # Counted among the requests in flight, whose gaps the recorder's work waits for
        # (write_behind.Recorder.until_gap): until it ends, or relays a stream's events.
        recorder.request_began()
        self.counted = True

    def stop_counting(self) -> None:
        """No longer in flight for the recorder: ended, or a stream waiting on its events
        (for minutes, mostly idle: each event is relayed in a moment)."""
        if self.counted:
            self.counted = False
            recorder.request_ended()

    def capture_request(self, body: bytes) -> None:
        limit = hot.PAYLOAD_CAPTURE_MAX_KB * 1024
        self.record.request_headers = self.scope["headers"]
        self.record.request_body = body[:limit]
        self.record.truncated = len(body) > limit

    async def run(self, body: bytes, receive: Receive, send: Send) -> None:
        """Forward, relay, record; a client disconnect cancels the work and is recorded."""
        self.body = body
        task = asyncio.current_task()
        gone = _client_gone(self.scope, receive)
        on_gone = functools.partial(self._on_client_gone, task)
        gone.add_done_callback(on_gone)
        outcome = Outcome()
        try:
            sent_at = time.perf_counter()
            try:
                outcome = await forward(self._call(body), strip=self.strip, outcome=outcome)
            except asyncio.CancelledError:
                self._cancelled_in_forward(outcome)
                raise
            self.record.overhead_ms = (sent_at - self.t0) * 1000
            self.record.upstream_ms = (time.perf_counter() - sent_at) * 1000
            await self.relay(outcome, send)
        except Exception:
            logger.exception("proxy.internal_error")
            await self._internal_error(send)
        except asyncio.CancelledError:
            if self.completed:
                raise
            self._from_request()
            # Whatever its status said (a 200 whose body was still being read), an answer
            # the client never had whole is no success: as on every other cancelled record.
            self.record.success = False
            if not gone.done():
                # Cancelled by the server itself (shutdown), not by the client leaving.
                self.record.terminal_state = Request.Terminal.ERROR
                self.record.error_message = "Server shut down mid-request"
                raise
            self.record.terminal_state = Request.Terminal.CLIENT_CANCELLED
            self.record.error_message = "Client disconnected"
        finally:
            gone.remove_done_callback(on_gone)
            if isinstance(gone, asyncio.Task):
                gone.cancel()  # the watcher of receive(), under another server
            self.finish()

    async def _internal_error(self, send: Send) -> None:
        """A bug of ours: the client still gets an answer in the API's shape (a 502) or,
        once an answer's start has gone to the server, sees it cut; never a bare 500 from
        the server, never a wait for ever. Recorded as an `error`: the upstream may well
        have been tried."""
        if not self.started:
            try:
                await self._send_error(send, 502, "api_error", _INTERNAL_ERROR)
            except Exception:
                logger.exception("proxy.internal_error_answer_failed")
        if not self.completed:
            # Neither hang nor look complete: the client sees the answer cut. A start the
            # server took cannot be followed by another (daphne refuses it).
            await send({"type": "http.response.body", "body": b"", ABORT: True})
        record = self.record
        record.terminal_state = Request.Terminal.ERROR
        record.error_message, record.success = _INTERNAL_ERROR, False
        self._from_request()

    def _cancelled_in_forward(self, outcome: Outcome) -> None:
        """Cancelled before any answer came (the client left, a shutdown): the record
        still says where the request went, as `relay` would have, and on which account
        it was waiting (the last one it was sent upstream with, if any)."""
        self._take(outcome, trace(outcome.account, "no answer yet when cancelled"))

    def _take(self, outcome: Outcome, *notes: dict) -> None:
        """The walk's trace, attempts and account onto the record: the account that
        answered or, without an answer, the last one the request was sent with."""
        record, account = self.record, outcome.account
        # After an agent's note.
        record.routing_trace = [*record.routing_trace, *outcome.trace, *notes]
        record.failover_attempts = outcome.attempts
        record.account_id = account.pk if account is not None else None

    def _on_client_gone(self, task: asyncio.Task | None, gone: asyncio.Future) -> None:
        if not gone.cancelled() and not self.completed and task is not None:
            task.cancel()

    def _call(self, body: bytes) -> Call:
        query = self.scope.get("query_string", b"")
        url = hot.UPSTREAM_BASE_URL + self.forward_path
        if query:
            url += "?" + query.decode("latin-1")
        # The client sends the path exactly as the guard validated it: no re-quoting, no
        # dot-segment resolution.
        scope = self.scope
        return Call(
            scope["method"], url, scope["headers"], body, scope["path"], self.record.started_at
        )

    async def relay(self, outcome: Outcome, send: Send) -> None:
        record = self.record
        self._take(outcome)
        if outcome.response is None:
            # No answer to read them from (every account failed or sat out): the record
            # still says which model, and whether a stream, was asked for.
            self._from_request()
            extra = []
            if outcome.retry_after is not None:
                extra.append((b"retry-after", str(outcome.retry_after).encode()))
            # The answer is the proxy's own either way; `rejected` only when it never tried
            # the upstream (README), else the attempt failed: `error`.
            record.terminal_state = (
                Request.Terminal.ERROR if outcome.attempted else Request.Terminal.REJECTED
            )
            await self._send_error(send, outcome.status, outcome.error_type, outcome.message, extra)
            return
        response, account = outcome.response, outcome.account
        status = record.status_code = response.status
        recorder.note_started(record)
        headers = upstream.response_headers(response)
        record.response_headers = headers
        if account is not None:
            headers.append((b"x-ccflare-account", account.name.encode("latin-1", "replace")))
        if self.cors:
            headers = [h for h in headers if not h[0].startswith(b"access-control-")]
            headers.extend(self.cors)
        # From the relayed list (lower-case names): the answer's full header mapping is
        # never built on the hot path.
        content_type = next((value for name, value in headers if name == b"content-type"), b"")
        stream = record.is_stream = self._streams(status, content_type)
        if 200 <= status < 300:
            record.success = True
        else:
            # An error answer (a 529 after the retries, a 4xx) names no model and is no
            # stream: the record says what was asked for.
            self._from_request()
        try:
            if stream:
                await self._start(send, status, headers)
                self.stop_counting()
                await self._relay_stream(response, send)
            else:
                await self._relay_body(response, headers, content_type, send)
        finally:
            response.release()

    def _streams(self, status: int, content_type: bytes) -> bool:
        """Whether the answer is relayed as a stream, each chunk as it arrives: one labelled
        an event stream, or a success labelled anything but JSON (octet-stream, nothing) to
        a request that asked for a stream. Read whole, such an answer reached the client
        all at once when the generation ended, and its usage was lost. A JSON answer (the
        non-streaming happy path) pays one prefix check; only the others read the body."""
        kind = content_type.lower()  # media types are case-insensitive (RFC 9110 §8.3.1)
        if b"text/event-stream" in kind:
            return True
        if not 200 <= status < 300 or kind.startswith(b"application/json"):
            return False
        return sniff.request_stream(self.body)

    async def _start(self, send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        # Started before the send: one that raised may still have been taken (daphne marks
        # the answer started, then writes the headers), and a second start would be refused.
        self.started = True
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _relay_body(
        self,
        response: Response,
        headers: list[tuple[bytes, bytes]],
        content_type: bytes,
        send: Send,
    ) -> None:
        """A non-streaming reply is read whole before its status line goes out, up to
        WHOLE_REPLY_BYTES; a larger one (a download: batch results, a file) is relayed
        as it arrives.

        Its upstream headers promise a Content-Length: sent first, a reply cut midway
        (or short) would leave the client waiting for bytes that never come. Read
        first, a cut reply is a clean 502 at once. The time to the last byte is the
        same, and nothing can use half a JSON document. Held whole, a reply of a GB
        would take several GB of memory: past the limit, a cut closes the client's
        connection instead (lib.asgi.ABORT).
        """
        try:
            body, whole = await response.read_up_to(WHOLE_REPLY_BYTES)
        except (UpstreamError, TimeoutError) as exc:
            self._upstream_failed(exc)
            message = f"Upstream {_cut_words(exc)} before the reply was complete"
            # Which account answered, as on every relayed answer: the cut was its reply's.
            served_by = [h for h in headers if h[0] == b"x-ccflare-account"]
            await self._send_error(send, 502, "api_error", message, served_by)
            return
        self._mark_first_byte()
        if whole and response.status >= 400:
            body = without_credentials(body)
        self.response_capture.add(body)
        if whole and response.status not in _NO_BODY_STATUSES and self.scope["method"] != "HEAD":
            headers.append((b"content-length", str(len(body)).encode()))
        elif not whole and response.length is not None:
            # A download relayed as it comes keeps the length the upstream framed it by: cut
            # short, an HTTP/1.0 client (whose answers end when the connection closes) sees
            # it short, not complete.
            headers.append((b"content-length", str(response.length).encode()))
        await self._start(send, response.status, headers)
        if not whole:
            await send({"type": "http.response.body", "body": body, "more_body": True})
            await self._relay_rest(response, send)
            return
        counted = self.usage.on_json_body(body)
        if self.usage.model is None:  # an answer that names none (not JSON): the one asked for
            self.usage.model = sniff.request_model(self.body)
        if self.usage.error is not None:  # a relayed error answer (a 529, a 4xx): its message
            self.record.error_message = self.usage.error
        elif not self.record.success:
            self.record.error_message = _unreadable_error(self.record.status_code, content_type)
        elif not counted and self.scope["path"] == "/v1/messages":
            self._check_message(body, headers)
        await send({"type": "http.response.body", "body": body})
        self.completed = True

    async def _relay_rest(self, response: Response, send: Send) -> None:
        """The rest of a large reply, as it arrives (the client's pace holds the upstream's)."""
        try:
            async for chunk in response.iter_chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self.response_capture.add(chunk)
        except (UpstreamError, TimeoutError) as exc:
            self._upstream_failed(exc)
            await send({"type": "http.response.body", "body": b"", ABORT: True})
            return
        await send({"type": "http.response.body", "body": b""})
        self.completed = True

    async def _relay_stream(self, response: Response, send: Send) -> None:
        parser, events = SSEParser(), WholeEvents()
        usage = self.usage
        first = True
        try:
            async for chunk in response.iter_chunks():
                if whole := events.take(chunk):
                    await send({"type": "http.response.body", "body": whole, "more_body": True})
                    if first:
                        first = False
                        self._mark_first_byte()
                        # Daphne's writes reach the socket only when Twisted's writer
                        # callback runs, after the next select: two loop turns put the first
                        # bytes on the wire before we parse them and relay what is already
                        # buffered (measured: first byte 0.6 ms sooner on a fast upstream).
                        await asyncio.sleep(0)
                        await asyncio.sleep(0)
                self.response_capture.add(chunk)
                now = time.perf_counter()
                for event in parser.feed(chunk):
                    usage.on_event(event, now)
        except (UpstreamError, TimeoutError) as exc:
            if usage.finished:
                # Cut after `message_stop`: the answer is whole; only its framing's end is
                # missing, which the client's own framing supplies.
                logger.warning("proxy.upstream_dropped_after_stop error=%s", type(exc).__name__)
                await send({"type": "http.response.body", "body": events.rest()})
                self.completed = True
                self._check_stream_end()
                return
            self._upstream_failed(exc)
            # The status line is gone already: an SSE error event is how a stream tells the
            # client it failed, and SDKs raise on it. The event cut midway was held back
            # (WholeEvents): the error is not read as part of it.
            error = replies.sse_error_event(f"Upstream {_cut_words(exc)} mid-stream")
            await send({"type": "http.response.body", "body": error, "more_body": False})
            return
        await send({"type": "http.response.body", "body": events.rest()})
        self.completed = True
        self._check_stream_end()

    def _mark_first_byte(self) -> None:
        if self.record.time_to_first_token_ms is None:
            self.record.time_to_first_token_ms = self._elapsed_ms()

    def _upstream_failed(self, exc: BaseException) -> None:
        logger.warning("proxy.upstream_dropped error=%s", type(exc).__name__)
        self.record.terminal_state = Request.Terminal.ERROR
        self.record.error_message = f"Upstream {_cut_words(exc)} ({type(exc).__name__})"
        self.record.success = False
        self._from_request()  # a reply cut before its model (a JSON one: all of it)

    def _from_request(self) -> None:
        """The model and the stream flag the request body states, on a record that no
        answer described (none came, an error, a cut one). Off the happy path only: it
        reads the body; an answer's own model and event stream are kept."""
        if self.usage.model is None:
            self.usage.model = sniff.request_model(self.body)
        if not self.record.is_stream:
            self.record.is_stream = sniff.request_stream(self.body)

    async def reply_error(
        self,
        send: Send,
        status: int,
        error_type: str,
        message: str,
        extra: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    ) -> None:
        """Answer from the proxy itself; recorded as `rejected`."""
        self.record.terminal_state = Request.Terminal.REJECTED
        await self._send_error(send, status, error_type, message, extra)

    async def _send_error(
        self,
        send: Send,
        status: int,
        error_type: str,
        message: str,
        extra: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    ) -> None:
        record = self.record
        record.status_code, record.error_message, record.success = status, message, False
        if record.request_headers is None:
            record.request_headers = self.scope["headers"]
        self.started = True  # before the send, as in `_start`
        body = await replies.send_error(
            send,
            status=status,
            error_type=error_type,
            message=message,
            headers=[*extra, *self.cors],
        )
        self.response_capture.add(body)
        self.completed = True

    async def reply_preflight(self, send: Send) -> None:
        """A CORS preflight from an allowed origin is answered here, never sent upstream."""
        self.record.status_code, self.record.success = 204, True
        self.record.request_headers = self.scope["headers"]
        await send({"type": "http.response.start", "status": 204, "headers": list(self.cors)})
        await send({"type": "http.response.body", "body": b""})
        self.started = self.completed = True

    def finish(self) -> None:
        """Fill the record from what was seen and queue it. Called exactly once."""
        record, usage = self.record, self.usage
        record.response_time_ms = self._elapsed_ms()
        record.response_body = self.response_capture.value()
        record.truncated = record.truncated or self.response_capture.truncated
        record.usage = usage.snapshot()
        if usage.first_token_at is not None:
            record.time_to_first_token_ms = int((usage.first_token_at - self.t0) * 1000)
        recorder.enqueue(record)

    def _check_stream_end(self) -> None:
        """A relayed event stream that ended cleanly: did the upstream end it as a
        finished message, or with an error event?"""
        if self.usage.error is not None:
            self.record.terminal_state = Request.Terminal.ERROR
            self.record.error_message = self.usage.error
            self.record.success = False
        elif not self.usage.finished and self.record.path.startswith("/v1/messages"):
            self.record.terminal_state = Request.Terminal.TRUNCATED
            self.record.success = False
        if not self.record.success:
            self._from_request()  # no message_start may have named the model

    def _check_message(self, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        """A success of the Messages API read whole that is no message with its usage (a
        page of a proxy in between, a compressed body although identity was asked for, a
        Content-Length short of the JSON). The client has it as sent; the record says it,
        as `_check_stream_end` does for a stream: not a success, its tokens unknown.

        A message whose usage alone is unreadable stays a success (the client got its
        answer, and the success rate says what clients got), its tokens 0 and the record
        saying they are unknown, so that it shows among the errors.
        """
        if self.usage.finished:
            problem = "Reply's usage was not readable"
        else:
            problem = f"Reply was not a readable message ({_not_a_message(body, headers)})"
            self.record.success = False
            self._from_request()  # whether a stream was asked for
        logger.warning("proxy.unreadable_reply problem=%r", problem)
        self.record.error_message = problem

    def _elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.t0) * 1000)


def _unreadable_error(status: int | None, content_type: bytes) -> str:
    """The record's message for an error answer that is no API error: a Cloudflare page
    in a 502/503 storm, an empty 529. Without one, such a storm showed in no list of
    errors (the dashboard's, /api/stats'), only as a falling success rate."""
    kind = content_type.split(b";")[0].strip().decode("latin-1")[:60] or "no content type"
    return f"HTTP {status} from the upstream ({kind}, not an API error)"


def _not_a_message(body: bytes, headers: list[tuple[bytes, bytes]]) -> str:
    """Why a body is no Messages answer, in a few words for the record and the log."""
    encoding = next((value for name, value in headers if name == b"content-encoding"), b"")
    if encoding.strip().lower() not in (b"", b"identity"):
        return "content-encoding " + encoding.decode("latin-1")[:40]
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return "not JSON"
    return "not a message"


def _client_gone(scope: Scope, receive: Receive) -> asyncio.Future:
    """A future that completes when the client leaves before the answer is finished.

    daphne serving us (ccflare_site.web_request) hands one over in the scope; under
    another server, a task waits on `receive()`, whose only message after the body is
    `http.disconnect` (or its end with the response, which `completed` tells apart).
    """
    gone = scope.get("extensions", {}).get(CLIENT_GONE)
    return gone if gone is not None else asyncio.ensure_future(receive())


async def read_body(scope: Scope, receive: Receive) -> bytes:
    """The whole request body, at most MAX_BODY_MB; raises BodyTooLarge or Disconnected."""
    limit = hot.MAX_BODY_MB * 1024 * 1024
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _looks_malformed(scope: Scope, body: bytes) -> bool:
    """A POST to the Messages API whose body cannot be a JSON object.

    Checking the first byte is enough to stop garbage before it spends an
    account's request; full validation is the upstream's job (it answers 400).
    """
    if scope["method"] != "POST" or not scope["path"].startswith("/v1/messages"):
        return False
    return body[:256].lstrip()[:1] != b"{"


_INTERNAL_ERROR = "Internal proxy error"
_KEYS_UNREAD = "The client keys could not be read from the database yet; try again shortly"
_NEEDS_CLIENT_KEY = (
    "This ccflare proxy requires a client key: send it as x-api-key or Authorization: Bearer"
)


def without_credentials(body: bytes) -> bytes:
    """An error answer with the credentials in it redacted (sk-ant- keys and tokens,
    client keys, Bearer values): an upstream that quotes the key it refused must not
    hand a pool account's key to the client, nor leave it in the payload capture."""
    text = body.decode("utf-8", "surrogateescape")
    redacted = logs.redact_credentials(text)
    return body if redacted == text else redacted.encode("utf-8", "surrogateescape")


def _cut_words(exc: BaseException) -> str:
    """What ended an answer midway, as the client and the record say it."""
    if isinstance(exc, SlowFraming):  # a trailer or chunk-size line trickled a byte at a time
        return "dragged out its chunked framing"
    if isinstance(exc, TimeoutError):  # lib.h1.ReadTimeout: UPSTREAM_READ_TIMEOUT_SECONDS
        return "sent nothing for too long"
    return "connection lost"


def _too_large_message() -> str:
    return f"Request body exceeds the {settings.MAX_BODY_MB} MB limit"
