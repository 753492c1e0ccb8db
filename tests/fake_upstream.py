"""A fake Anthropic API that the test suite and the benchmark own, so no test reaches the internet.

It speaks the public wire format: Messages JSON and SSE replies with usage, the error shape,
`request-id` and unified rate-limit headers, the OAuth token endpoint (rotating refresh tokens)
and create_api_key. Tests steer it through a control API under /_fake/ (never under /v1/):

    POST /_fake/reset    clear the request log, rules, OAuth state and config
    GET  /_fake/log      every request received: method, path, query, headers (a list of
                          [name, value] pairs as received, names lower-cased, duplicates
                          kept), body size, json
    POST /_fake/rules    {"credential": "<key or bearer token>"|"*", "status": 429, "headers": {},
                          "body": {...}|"<html>..."|null, "times": N|null, "path": null|"/v1/...",
                          "scenario": null|"drop_mid_stream"|"slow_stream"|"rate_limited"|
                          "raw_head" (with "status_line" and "fields": a head as written),
                          "events": 40, "interval_ms": 250, "reset_in": 60,
                          "delay_ms": 0 (the reply, made at once, is sent this much later)}
    GET  /_fake/rules    the rules still active, with the times left
    GET|POST /_fake/config   reply_text, input_tokens, cache_creation_input_tokens,
                          cache_read_input_tokens, output_tokens (null: one per delta), expires_in,
                          cache_creation: {"ephemeral_5m_input_tokens": N,
                          "ephemeral_1h_input_tokens": M} (sent as the API does, with
                          cache_creation_input_tokens = N + M)
    GET  /api/oauth/usage    the OAuth usage endpoint (config usage_shape "limits"|"flat",
                          usage_percent {"five_hour": 12, "seven_day": 3, "Opus": 40}); a rule
                          with "path": "/api/oauth/usage" replaces the reply (odd bodies, 401)
    GET  /_fake/oauth    refresh attempts per refresh token, tokens and API keys issued
    POST /_fake/gates/NAME   let a `gated_stream` waiting on gate NAME send its next event

Request headers `x-fake-scenario: slow_stream;events=50;interval_ms=100` (any scenario, on
/v1/messages) and `x-fake-delay-ms: N` (delays the response headers) steer one request.

Run: python -m tests.fake_upstream --port 0 [--host 127.0.0.1] [--no-log]; prints `READY <port>`.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.servers import start_fake_upstream, stop

__all__ = ["build_app", "main", "start_fake_upstream", "stop"]

DEFAULT_MODEL = "claude-sonnet-4-5-20250929"
DEFAULT_REPLY = "Hello! This is the fake upstream answering with a canned reply."
SCENARIOS = (
    "drop_mid_stream",
    "slow_stream",
    "rate_limited",
    "gated_stream",
    "short_body",
    "deep_json",
    "bare_429",
    "drop_before_headers",
    "large_body",
    "raw_head",
    "trickled_trailer",
)
# Paths that authenticate with something other than an API credential.
OAUTH_PATHS = frozenset(
    {"/v1/oauth/token", "/api/oauth/claude_cli/create_api_key", "/api/oauth/usage"}
)
MODELS = (
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
)
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_ID_SLOT = b"@@MSG_ID@@"
_FIVE_HOURS = 5 * 3600
_SEVEN_DAYS = 7 * 24 * 3600


# Wire format ---------------------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def sse_event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _dumps(data) + b"\n\n"


def error_body(status: int, message: str, request_id: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


@dataclass(frozen=True)
class Config:
    """What the replies say; changed at run time through POST /_fake/config."""

    reply_text: str = DEFAULT_REPLY
    input_tokens: int = 25
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int | None = None  # None: one token per text delta
    expires_in: int = 28800
    # The cache writes split by lifetime, as the API reports them when asked for 1-hour
    # caching: {"ephemeral_5m_input_tokens": N, "ephemeral_1h_input_tokens": M}.
    cache_creation: dict[str, int] | None = None
    # GET /api/oauth/usage: "limits" (the 2026 shape) or "flat" (the older one), and the
    # percentages it reports; keys other than five_hour and seven_day are model families.
    usage_shape: str = "limits"
    usage_percent: dict[str, float] = field(
        default_factory=lambda: {"five_hour": 12.0, "seven_day": 3.0, "Opus": 40.0}
    )

    def deltas(self, count: int | None = None) -> list[str]:
        words = re.findall(r"\S+\s*", self.reply_text) or [self.reply_text]
        if count is None:
            return words
        return [words[i % len(words)] for i in range(count)]

    def start_usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": 1,
            "service_tier": "standard",
        }
        if self.cache_creation is not None:
            usage["cache_creation"] = dict(self.cache_creation)
            usage["cache_creation_input_tokens"] = sum(self.cache_creation.values())
        return usage

    def final_output_tokens(self, deltas: int) -> int:
        return deltas if self.output_tokens is None else self.output_tokens


def stream_head(model: str, config: Config, msg_id: str) -> bytes:
    """message_start, content_block_start and ping: what the API sends before any text."""
    message = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": config.start_usage(),
    }
    return (
        sse_event("message_start", {"type": "message_start", "message": message})
        + sse_event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        + sse_event("ping", {"type": "ping"})
    )


def stream_delta(text: str) -> bytes:
    delta = {"type": "text_delta", "text": text}
    return sse_event(
        "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    )


def stream_tail(output_tokens: int) -> bytes:
    message_delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }
    return (
        sse_event("content_block_stop", {"type": "content_block_stop", "index": 0})
        + sse_event("message_delta", message_delta)
        + sse_event("message_stop", {"type": "message_stop"})
    )


def message_json(model: str, config: Config, msg_id: str) -> dict[str, Any]:
    usage = config.start_usage()
    usage["output_tokens"] = config.final_output_tokens(len(config.deltas()))
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": config.reply_text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


@dataclass(frozen=True)
class Canned:
    """One model's reply bytes, built once: only the message id changes per request."""

    json_parts: list[bytes]
    head_parts: list[bytes]
    body: bytes  # text deltas and the closing events of a normal stream

    @classmethod
    def build(cls, model: str, config: Config) -> "Canned":
        slot = _ID_SLOT.decode()
        deltas = config.deltas()
        body = b"".join(stream_delta(text) for text in deltas)
        body += stream_tail(config.final_output_tokens(len(deltas)))
        return cls(
            json_parts=_dumps(message_json(model, config, slot)).split(_ID_SLOT),
            head_parts=stream_head(model, config, slot).split(_ID_SLOT),
            body=body,
        )

    def json_body(self, msg_id: bytes) -> bytes:
        return msg_id.join(self.json_parts)

    def head(self, msg_id: bytes) -> bytes:
        return msg_id.join(self.head_parts)


# State ---------------------------------------------------------------------------------------


@dataclass
class Rule:
    """The next `times` matching requests (None: all) get this response, not the normal one."""

    id: int
    credential: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    times: int | None = None
    path: str | None = None
    # Only requests whose JSON `model` contains this (e.g. "opus"): per-model limits.
    model: str | None = None
    scenario: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    # The reply is made at once (an OAuth refresh rotates the tokens then) and sent this
    # many milliseconds later: a slow endpoint, or one whose answer is lost on the way.
    delay_ms: int = 0

    def matches(self, credential: str | None, path: str, model: str | None) -> bool:
        # Without an explicit path a rule leaves the OAuth endpoints alone, so a "*" rule
        # meant for /v1/messages never breaks a token refresh.
        path_ok = path not in OAUTH_PATHS if self.path is None else path == self.path
        model_ok = self.model is None or (model is not None and self.model in model)
        return path_ok and model_ok and self.credential in ("*", credential)


def parse_rule(data: Any, rule_id: int) -> Rule:
    """Build a Rule from the JSON of POST /_fake/rules; raises ValueError when malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("credential"), str):
        raise ValueError("a rule is an object with a string 'credential' ('*' for any)")
    known = {f.name for f in fields(Rule)} - {"id", "params"}
    rule = Rule(id=rule_id, **{k: v for k, v in data.items() if k in known})
    rule.params = {k: str(v) for k, v in data.items() if k not in known}
    rule.headers = {str(k).lower(): str(v) for k, v in rule.headers.items()}
    if rule.scenario not in (None, *SCENARIOS):
        raise ValueError(f"unknown scenario {rule.scenario!r}; known: {', '.join(SCENARIOS)}")
    if not isinstance(rule.status, int) or (rule.times is not None and rule.times < 1):
        raise ValueError("'status' must be an integer and 'times' null or at least 1")
    if not isinstance(rule.delay_ms, int) or rule.delay_ms < 0:
        raise ValueError("'delay_ms' must be a whole number of milliseconds")
    return rule


@dataclass
class OAuth:
    """Codes and refresh tokens already used (refresh tokens rotate), and what was issued."""

    used_codes: set[str] = field(default_factory=set)
    used_refresh_tokens: set[str] = field(default_factory=set)
    refresh_counts: Counter[str] = field(default_factory=Counter)
    issued: list[dict[str, str]] = field(default_factory=list)
    api_keys: list[str] = field(default_factory=list)

    def issue(self, *, grant_type: str, expires_in: int) -> dict[str, Any]:
        n = len(self.issued) + 1
        access, refresh = f"sk-ant-oat01-fake-{n:04d}", f"sk-ant-ort01-fake-{n:04d}"
        self.issued.append(
            {"grant_type": grant_type, "access_token": access, "refresh_token": refresh}
        )
        return {
            "token_type": "Bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": expires_in,
            "scope": "user:inference user:profile",
            "organization": {"uuid": "00000000-0000-4000-8000-0000000000aa", "name": "Fake Org"},
            "account": {
                "uuid": "00000000-0000-4000-8000-0000000000bb",
                "email_address": "fake@example.com",
            },
        }


@dataclass
class State:
    """Everything the fake remembers between requests; POST /_fake/reset restores it."""

    log_enabled: bool
    defaults: Config
    config: Config = field(init=False)
    log: list[dict[str, Any]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    oauth: OAuth = field(default_factory=OAuth)
    canned: dict[str, Canned] = field(default_factory=dict)
    counter: itertools.count = field(default_factory=itertools.count)
    ratelimit_headers: dict[str, str] = field(default_factory=dict)
    # gated_stream waits on these; POST /_fake/gates/NAME releases one step.
    gates: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.config = self.defaults
        self.ratelimit_headers = ratelimit_headers(now=int(time.time()))

    def reset(self) -> None:
        self.log.clear()
        self.rules.clear()
        self.canned.clear()
        self.oauth = OAuth()
        self.config = self.defaults
        self.gates.clear()

    def gate(self, name: str) -> asyncio.Semaphore:
        return self.gates.setdefault(name, asyncio.Semaphore(0))

    def configure(self, **changes: Any) -> None:
        self.config = replace(self.config, **changes)
        self.canned.clear()

    def canned_for(self, model: str) -> Canned:
        canned = self.canned.get(model)
        if canned is None:
            if len(self.canned) > 64:  # a client inventing model names must not grow us forever
                self.canned.clear()
            canned = self.canned[model] = Canned.build(model, self.config)
        return canned

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_01Fake{next(self.counter):016d}"

    def take_rule(self, credential: str | None, path: str, model: str | None) -> Rule | None:
        for rule in self.rules:
            if rule.matches(credential, path, model):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self.rules.remove(rule)
                return rule
        return None

    def headers(self, content_type: str, extra: dict[str, str]) -> dict[str, str]:
        headers = dict(self.ratelimit_headers)
        headers["content-type"] = content_type
        headers["request-id"] = self.next_id("req")
        headers.update(extra)
        return headers


def ratelimit_headers(
    *, now: int, status: str = "allowed", reset_in: int | None = None
) -> dict[str, str]:
    """The unified rate-limit headers of a subscription account, windows counted from `now`."""
    five_hour_reset = now + (_FIVE_HOURS if reset_in is None else reset_in)
    rejected = status == "rejected"
    return {
        "anthropic-ratelimit-unified-status": status,
        "anthropic-ratelimit-unified-reset": str(five_hour_reset),
        "anthropic-ratelimit-unified-remaining": "0" if rejected else "4000",
        "anthropic-ratelimit-unified-5h-utilization": "1.0" if rejected else "0.12",
        "anthropic-ratelimit-unified-5h-reset": str(five_hour_reset),
        "anthropic-ratelimit-unified-7d-utilization": "0.31" if rejected else "0.03",
        "anthropic-ratelimit-unified-7d-reset": str(now + _SEVEN_DAYS),
        "anthropic-ratelimit-unified-representative-claim": "five_hour",
    }


STATE = web.AppKey("state", State)


# Request handling ----------------------------------------------------------------------------


@dataclass
class Call:
    """One received request, read and parsed once."""

    request: web.Request
    state: State
    body: bytes
    payload: Any
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def wants_stream(self) -> bool:
        return isinstance(self.payload, dict) and self.payload.get("stream") is True

    @property
    def model(self) -> str:
        model = self.payload.get("model") if isinstance(self.payload, dict) else None
        return model if isinstance(model, str) else DEFAULT_MODEL


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode()) if body else None
    except ValueError:  # includes UnicodeDecodeError
        return None


def _credential(request: web.Request) -> str | None:
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _log_entry(request: web.Request, body: bytes, payload: Any) -> dict[str, Any]:
    return {
        "time": time.time(),
        "method": request.method,
        "path": request.path,
        "query": request.query_string,
        # Pairs, not a dict: a header sent twice (a client's key next to the account's)
        # must show twice.
        "headers": [[name.lower(), value] for name, value in request.headers.items()],
        "body_bytes": len(body),
        "json": payload,
    }


def error_response(
    call: Call, status: int, message: str, extra: dict[str, str] | None = None
) -> web.Response:
    headers = call.state.headers("application/json", extra or {})
    body = error_body(status, message, headers["request-id"])
    return web.Response(status=status, body=_dumps(body), headers=headers)


def json_reply(call: Call, body: Any, status: int = 200) -> web.Response:
    headers = call.state.headers("application/json", call.extra_headers)
    return web.Response(status=status, body=_dumps(body), headers=headers)


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Serve any non-control path: auth, then a matching rule, a scenario, or the normal reply."""
    state = request.app[STATE]
    body = await request.read()
    payload = _parse_json(body)
    if state.log_enabled:
        state.log.append(_log_entry(request, body, payload))
    call = Call(request, state, body, payload)
    delay_ms = request.headers.get("x-fake-delay-ms")
    if delay_ms:
        await asyncio.sleep(int(delay_ms) / 1000)
    credential = _credential(request)
    if request.path.startswith("/v1/") and credential is None and request.path not in OAUTH_PATHS:
        return error_response(call, 401, "x-api-key header is required")
    handler = ROUTES.get((request.method, request.path))
    model = payload.get("model") if isinstance(payload, dict) else None
    rule = state.take_rule(credential, request.path, model if isinstance(model, str) else None)
    if rule is not None:
        return await apply_rule(call, rule, handler)
    scenario = request.headers.get("x-fake-scenario")
    if scenario and handler is messages:
        name, _, params = scenario.partition(";")
        return await run_scenario(call, name.strip(), dict(parse_qsl(params.replace(";", "&"))))
    if handler is None:
        return error_response(call, 404, f"Not found: {request.method} {request.path}")
    return await handler(call)


async def apply_rule(call: Call, rule: Rule, handler: Handler | None) -> web.StreamResponse:
    reply = await _rule_reply(call, rule, handler)
    if rule.delay_ms and not reply.prepared:  # a scenario's stream has gone out already
        await asyncio.sleep(rule.delay_ms / 1000)
    return reply


async def _rule_reply(call: Call, rule: Rule, handler: Handler | None) -> web.StreamResponse:
    call.extra_headers = rule.headers
    if rule.scenario is not None:
        return await run_scenario(call, rule.scenario, rule.params)
    if rule.status == 200 and rule.body is None and handler is not None:
        return await handler(call)  # the normal reply, with the rule's headers on top
    if rule.body is None:
        return error_response(call, rule.status, f"Fake error {rule.status}", rule.headers)
    if isinstance(rule.body, str):  # a page of something in front of the API: no API headers
        headers = {"content-type": "text/html", **call.extra_headers}
        return web.Response(status=rule.status, text=rule.body, headers=headers)
    return json_reply(call, rule.body, rule.status)


async def messages(call: Call) -> web.StreamResponse:
    if not isinstance(call.payload, dict) or not isinstance(call.payload.get("model"), str):
        return error_response(call, 400, "model: Field required")
    canned = call.state.canned_for(call.model)
    msg_id = call.state.next_id("msg").encode()
    if not call.wants_stream:
        headers = call.state.headers("application/json", call.extra_headers)
        return web.Response(body=canned.json_body(msg_id), headers=headers)
    response = await open_stream(call)
    await response.write(canned.head(msg_id))
    await response.write(canned.body)
    await response.write_eof()
    return response


async def open_stream(call: Call) -> web.StreamResponse:
    headers = call.state.headers("text/event-stream; charset=utf-8", call.extra_headers)
    headers["cache-control"] = "no-cache"
    response = web.StreamResponse(headers=headers)
    await response.prepare(call.request)
    return response


async def count_tokens(call: Call) -> web.StreamResponse:
    return json_reply(call, {"input_tokens": call.state.config.input_tokens})


async def list_models(call: Call) -> web.StreamResponse:
    data = [
        {"type": "model", "id": model, "display_name": name, "created_at": created}
        for model, name, created in MODELS
    ]
    page = {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
    return json_reply(call, page)


# Scenarios -----------------------------------------------------------------------------------


async def run_scenario(call: Call, name: str, params: dict[str, str]) -> web.StreamResponse:
    scenario = SCENARIO_HANDLERS.get(name)
    if scenario is None:
        return error_response(call, 400, f"unknown x-fake-scenario {name!r}")
    return await scenario(call, params)


async def slow_stream(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """A valid reply whose `events` text deltas are `interval_ms` apart (JSON: sent at the end).

    Delta k goes out at k intervals after the head, on the loop's clock, as a model writes:
    a remote model's pace does not slow down when the machine reading it is busy. Sleeping
    an interval after each write did: sharing two cores with the proxy, each wake-up came
    about 0.2 ms late and the lateness added up over a stream (docs/performance.md).
    """
    events, interval = int(params.get("events", 20)), int(params.get("interval_ms", 100)) / 1000
    config = call.state.config
    if not call.wants_stream:
        await asyncio.sleep(events * interval)
        return await messages(call)
    response = await open_stream(call)
    await response.write(stream_head(call.model, config, call.state.next_id("msg")))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index, text in enumerate(config.deltas(events), start=1):
        await asyncio.sleep(max(0.0, started + index * interval - loop.time()))
        await response.write(stream_delta(text))
    await response.write(stream_tail(config.final_output_tokens(events)))
    await response.write_eof()
    return response


async def gated_stream(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """A stream that sends its head and first delta, then each next event only once the
    test releases gate `gate` (POST /_fake/gates/NAME), so a test can check what reached
    the client in between. Each step waits at most `hold_s` seconds, so a failed test
    never leaves it hanging."""
    events, hold = int(params.get("events", 2)), float(params.get("hold_s", 60))
    gate, config = call.state.gate(params.get("gate", "default")), call.state.config
    response = await open_stream(call)
    await response.write(stream_head(call.model, config, call.state.next_id("msg")))
    for text in config.deltas(events):
        await response.write(stream_delta(text))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gate.acquire(), hold)
    await response.write(stream_tail(config.final_output_tokens(events)))
    await response.write_eof()
    return response


async def drop_mid_stream(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """Start a reply, then abort the TCP connection: no chunked terminator, no message_stop."""
    config, msg_id = call.state.config, call.state.next_id("msg")
    if call.wants_stream:
        response = await open_stream(call)
        partial = stream_head(call.model, config, msg_id)
        partial += b"".join(stream_delta(text) for text in config.deltas(2))
    else:
        full = _dumps(message_json(call.model, config, msg_id))
        headers = call.state.headers("application/json", call.extra_headers)
        response = web.StreamResponse(headers=headers)
        response.content_length = len(full)
        await response.prepare(call.request)
        partial = full[: len(full) // 2]
    await response.write(partial)
    # Give the kernel a moment to put those bytes on the wire: abort() discards unsent data.
    await asyncio.sleep(0.05)
    assert call.request.transport is not None
    call.request.transport.abort()
    return response


async def short_body(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """A JSON reply whose Content-Length promises more than is sent before a clean close."""
    full = _dumps(message_json(call.model, call.state.config, call.state.next_id("msg")))
    headers = call.state.headers("application/json", call.extra_headers)
    response = web.StreamResponse(headers=headers)
    response.content_length = len(full)
    await response.prepare(call.request)
    await response.write(full[: len(full) // 2])
    await asyncio.sleep(0.05)
    assert call.request.transport is not None
    call.request.transport.close()
    return response


async def deep_json(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """A 200 JSON body nested `depth` levels deep: valid JSON that recursive parsers choke on."""
    depth = int(params.get("depth", 100_000))
    body = b'{"a":' * depth + b"1" + b"}" * depth
    headers = call.state.headers("application/json", call.extra_headers)
    return web.Response(body=body, headers=headers)


async def large_body(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """`mb` MB of JSON lines (a download: batch results, a file), with a Content-Length or
    chunked (`chunked=1`); `cut=1` closes the connection after half of it (a clean close:
    all of that half arrives, then the end of the stream, short of the whole)."""
    size = int(float(params.get("mb", 20)) * 1024 * 1024)
    line = b'{"custom_id":"x","result":{"type":"succeeded"}}\n'
    piece = line * (65536 // len(line))
    headers = call.state.headers("application/binary", call.extra_headers)
    response = web.StreamResponse(headers=headers)
    if params.get("chunked") != "1":
        response.content_length = size
    await response.prepare(call.request)
    sent, stop_at = 0, size // 2 if params.get("cut") == "1" else size
    while sent < stop_at:
        part = piece[: stop_at - sent]
        await response.write(part)
        sent += len(part)
    if sent < size:
        assert call.request.transport is not None
        call.request.transport.close()  # unlike abort(), sends what is buffered first
        return response
    await response.write_eof()
    return response


async def drop_before_headers(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """Close the connection without any answer: a network error for the client."""
    assert call.request.transport is not None
    call.request.transport.abort()
    return web.Response(status=204)


async def raw_head(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """The normal reply (JSON, or the stream asked for) under a head written byte for byte,
    as no HTTP library would: `status_line` (default "HTTP/1.1 200 OK") and `fields`, more
    header lines ("name: value\r\n" each, any byte as its latin-1 character), then the
    connection closed."""
    canned = call.state.canned_for(call.model)
    msg_id = call.state.next_id("msg").encode()
    if call.wants_stream:
        body, content_type = canned.head(msg_id) + canned.body, b"text/event-stream"
    else:
        body, content_type = canned.json_body(msg_id), b"application/json"
    head = params.get("status_line", "HTTP/1.1 200 OK").encode("latin-1") + b"\r\n"
    head += b"content-type: " + content_type + b"\r\n" + params.get("fields", "").encode("latin-1")
    head += b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    assert call.request.transport is not None
    call.request.transport.write(head + body)
    call.request.transport.close()  # unlike abort(), sends what is buffered first
    return web.Response(status=204)  # never sent: the connection is closed


async def trickled_trailer(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """A whole chunked JSON reply, then its last chunk and a trailer that never ends: one
    byte every `interval_ms` (200), `bytes` of them (100), then the connection aborted."""
    full = _dumps(message_json(call.model, call.state.config, call.state.next_id("msg")))
    response = web.StreamResponse(headers=call.state.headers("application/json", {}))
    response.enable_chunked_encoding()
    await response.prepare(call.request)
    await response.write(full)
    transport = call.request.transport
    assert transport is not None
    transport.write(b"0\r\n")  # past aiohttp's framing: its end would close the trailer
    for _ in range(int(params.get("bytes", 100))):
        await asyncio.sleep(int(params.get("interval_ms", 200)) / 1000)
        if transport.is_closing():
            break
        transport.write(b"x")
    transport.abort()
    return response


async def bare_429(call: Call, params: dict[str, str]) -> web.StreamResponse:
    """A 429 with no rate-limit header at all: about this request, not the account (§2.7)."""
    body = error_body(429, "Request rate too high for this request", "req_bare")
    headers = {"content-type": "application/json", "x-should-retry": "true"}
    return web.Response(status=429, body=_dumps(body), headers=headers)


async def rate_limited(call: Call, params: dict[str, str]) -> web.StreamResponse:
    reset_in = int(params.get("reset_in", 60))
    headers = ratelimit_headers(now=int(time.time()), status="rejected", reset_in=reset_in)
    headers["retry-after"] = str(reset_in)
    headers.update(call.extra_headers)
    message = "This request would exceed your account's rate limit. Please try again later."
    return error_response(call, 429, message, headers)


SCENARIO_HANDLERS: dict[str, Callable[[Call, dict[str, str]], Awaitable[web.StreamResponse]]] = {
    "slow_stream": slow_stream,
    "drop_mid_stream": drop_mid_stream,
    "large_body": large_body,
    "rate_limited": rate_limited,
    "gated_stream": gated_stream,
    "short_body": short_body,
    "deep_json": deep_json,
    "bare_429": bare_429,
    "drop_before_headers": drop_before_headers,
    "raw_head": raw_head,
    "trickled_trailer": trickled_trailer,
}


# OAuth ---------------------------------------------------------------------------------------


def oauth_error(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)


async def oauth_token(call: Call) -> web.StreamResponse:
    """The token endpoint: takes JSON (as Claude Code sends) or a form body."""
    form = call.payload if isinstance(call.payload, dict) else dict(parse_qsl(call.body.decode()))
    oauth, expires_in = call.state.oauth, call.state.config.expires_in
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code = str(form.get("code") or "")
        if not code or code in oauth.used_codes:
            return oauth_error("invalid_grant", "Invalid 'code' in request.")
        oauth.used_codes.add(code)
        return web.json_response(oauth.issue(grant_type=grant_type, expires_in=expires_in))
    if grant_type == "refresh_token":
        token = str(form.get("refresh_token") or "")
        oauth.refresh_counts[token] += 1
        # Refresh tokens rotate: a used one is dead, as with the real endpoint.
        if not token or token in oauth.used_refresh_tokens:
            return oauth_error("invalid_grant", "Refresh token not found or invalid")
        oauth.used_refresh_tokens.add(token)
        return web.json_response(oauth.issue(grant_type=grant_type, expires_in=expires_in))
    return oauth_error("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")


async def create_api_key(call: Call) -> web.StreamResponse:
    if _credential(call.request) is None:
        return error_response(call, 401, "OAuth token required")
    key = f"sk-ant-api03-fake-{len(call.state.oauth.api_keys) + 1:04d}"
    call.state.oauth.api_keys.append(key)
    return web.json_response({"raw_key": key})


def usage_body(config: Config, *, now: float) -> dict[str, Any]:
    """The usage endpoint's reply (docs/routing.md) in the configured shape; resets from `now`."""
    percents = dict(config.usage_percent)
    resets = {"five_hour": now + 2 * 3600, "seven_day": now + 3 * 86400}

    def iso(key: str) -> str:
        moment = resets.get(key, now + 4 * 86400)
        return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(moment))

    if config.usage_shape == "flat":
        body: dict[str, Any] = {"seven_day_oauth_apps": None, "extra_usage": {"is_enabled": False}}
        for key, percent in percents.items():
            name = key if key in resets else f"seven_day_{key.lower()}"
            body[name] = {"utilization": percent, "resets_at": iso(key)}
        return body
    kinds = {"five_hour": "session", "seven_day": "weekly_all"}
    limits = [
        {
            "kind": kinds.get(key, "weekly_scoped"),
            "group": "weekly" if key != "five_hour" else "session",
            "percent": percent,
            "severity": "warning" if percent >= 75 else "normal",
            "resets_at": iso(key),
            "scope": None if key in kinds else {"model": {"display_name": key}},
            "is_active": False,
        }
        for key, percent in percents.items()
    ]
    return {"limits": limits, "spend": {"is_enabled": False}}


async def oauth_usage(call: Call) -> web.StreamResponse:
    if _credential(call.request) is None:
        return error_response(call, 401, "OAuth token required")
    return web.json_response(usage_body(call.state.config, now=time.time()))


ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/messages"): messages,
    ("POST", "/v1/messages/count_tokens"): count_tokens,
    ("GET", "/v1/models"): list_models,
    ("POST", "/v1/oauth/token"): oauth_token,
    ("POST", "/api/oauth/claude_cli/create_api_key"): create_api_key,
    ("GET", "/api/oauth/usage"): oauth_usage,
}


# Control API ---------------------------------------------------------------------------------


async def control_reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"ok": True})


async def control_log(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].log)


async def control_add_rule(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        rule = parse_rule(_parse_json(await request.read()), rule_id=next(state.counter))
    except (TypeError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    state.rules.append(rule)
    return web.json_response(asdict(rule))


async def control_rules(request: web.Request) -> web.Response:
    return web.json_response([asdict(rule) for rule in request.app[STATE].rules])


async def control_config(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "POST":
        try:
            state.configure(**(_parse_json(await request.read()) or {}))
        except TypeError as exc:
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(asdict(state.config))


async def control_release_gate(request: web.Request) -> web.Response:
    request.app[STATE].gate(request.match_info["name"]).release()
    return web.json_response({"ok": True})


async def control_oauth(request: web.Request) -> web.Response:
    oauth = request.app[STATE].oauth
    return web.json_response(
        {
            "refresh_counts": dict(oauth.refresh_counts),
            "issued": oauth.issued,
            "api_keys": oauth.api_keys,
        }
    )


def build_app(*, log: bool = True, reply_text: str = DEFAULT_REPLY) -> web.Application:
    """The fake as an aiohttp application; `log=False` skips the request log (benchmarks)."""
    # Bodies up to the Messages API's own 32 MB limit must get through, so that the proxy's
    # own limit is what tests see.
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE] = State(log_enabled=log, defaults=Config(reply_text=reply_text))
    # The API route first: the router tries routes in order, and this one is the hot path.
    app.router.add_route("*", "/v1/{tail:.*}", dispatch)
    app.router.add_post("/_fake/reset", control_reset)
    app.router.add_get("/_fake/log", control_log)
    app.router.add_post("/_fake/rules", control_add_rule)
    app.router.add_get("/_fake/rules", control_rules)
    app.router.add_route("*", "/_fake/config", control_config)
    app.router.add_get("/_fake/oauth", control_oauth)
    app.router.add_post("/_fake/gates/{name}", control_release_gate)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


# Entry point ---------------------------------------------------------------------------------


async def serve(*, host: str, port: int, log: bool, reply_text: str) -> None:
    """Listen until SIGTERM or SIGINT; print `READY <port>` once connections are accepted."""
    runner = web.AppRunner(
        build_app(log=log, reply_text=reply_text), access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    # A large backlog: the benchmark's proxy opens hundreds of upstream connections at once.
    await web.TCPSite(runner, host, port, backlog=4096).start()
    print(f"READY {runner.addresses[0][1]}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Anthropic API for tests and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-log", action="store_true", help="do not keep the request log")
    parser.add_argument("--reply-text", default=DEFAULT_REPLY)
    args = parser.parse_args(argv)
    asyncio.run(
        serve(host=args.host, port=args.port, log=not args.no_log, reply_text=args.reply_text)
    )


if __name__ == "__main__":
    main()
