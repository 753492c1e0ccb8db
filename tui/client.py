"""The HTTP side of the TUI: JSON calls and SSE streams, every failure as one readable error.

Nothing here raises anything but `ApiProblem` for a call that did not work, so the
screens can show `str(problem)` in place and never a traceback.
"""

import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

# Generous for a call over SSH to a loaded server; the streams have no read timeout
# (the server sends a heartbeat comment while nothing happens).
CALL_TIMEOUT = httpx.Timeout(15.0)
STREAM_TIMEOUT = httpx.Timeout(15.0, read=None)
# What the server relays is data, never terminal control: a model name, an error message or
# a request body chosen by a client or an upstream may carry ESC sequences (colours, the
# window title, OSC 52 clipboard writes), and Textual writes text out as it is. C0 controls
# but newline and tab (bodies are multi-line), DEL and the C1 controls (0x9b is a CSI).
# C0 and C1 controls (an ESC starts a sequence that retitles, clears or recolours the
# terminal, or writes to the clipboard), and the bidirectional overrides and marks that
# turn the text around them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class ApiProblem(Exception):
    """A call that did not work; the message is user-facing. `refused`: the token is bad."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def refused(self) -> bool:
        return self.status in (401, 403)


class ApiClient:
    """One server's API, authenticated with an API token (`Authorization: Bearer`)."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers)
        # When each call still waiting for its answer started (by a number of its own).
        self._started: dict[int, float] = {}
        self._numbers = itertools.count()
        # Stream events skipped as unreadable (not a JSON object, or nested too deep).
        self.skipped_frames = 0

    async def close(self) -> None:
        await self._http.aclose()

    def waited(self) -> float:
        """Seconds the oldest call still waiting for its answer has waited (0 when none is);
        the streams, which wait by design, are not calls."""
        if not self._started:
            return 0.0
        return time.monotonic() - min(self._started.values())

    async def get(self, path: str, **params: Any) -> Any:
        return await self._call("GET", path, params=params or None)

    async def post(self, path: str, body: dict | None = None) -> Any:
        return await self._call("POST", path, json=body if body is not None else {})

    async def delete(self, path: str, body: dict) -> Any:
        return await self._call("DELETE", path, json=body)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        number = next(self._numbers)
        self._started[number] = time.monotonic()
        try:
            reply = await self._http.request(method, path, timeout=CALL_TIMEOUT, **kwargs)
        except httpx.HTTPError as error:
            raise ApiProblem(unreachable(self.base_url, error)) from None
        finally:
            del self._started[number]
        if reply.status_code >= 400:
            raise ApiProblem(refusal(reply), status=reply.status_code)
        if not reply.content:
            return None
        try:
            return terminal_safe(reply.json())
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to decode
            raise ApiProblem(f"{path} answered something that is not JSON") from None

    async def stream(self, path: str) -> AsyncIterator[dict]:
        """The JSON `data:` frames of an SSE stream, as they come; ApiProblem when it fails.

        Ends (without error) when the server closes the stream.
        """
        try:
            async with self._http.stream("GET", path, timeout=STREAM_TIMEOUT) as reply:
                if reply.status_code >= 400:
                    await reply.aread()
                    raise ApiProblem(refusal(reply), status=reply.status_code)
                async for frame in sse_frames(reply.aiter_lines(), on_skip=self._skipped):
                    yield frame
        except httpx.HTTPError as error:
            raise ApiProblem(unreachable(self.base_url, error)) from None

    def _skipped(self) -> None:
        self.skipped_frames += 1


async def sse_frames(
    lines: AsyncIterator[str], *, on_skip: Callable[[], None] = lambda: None
) -> AsyncIterator[dict]:
    """One dict per event: an unnamed event's JSON data, or `{"event": name, "data": text}`
    with `"id"` too when the event has one (the request stream's `connected` carries the
    server's start id).

    Comments (the heartbeats) are skipped; so is data that is not a JSON object (or is
    nested too deep to decode), with a call to `on_skip`, and the stream goes on.
    """
    name, event_id = "", None
    data: list[str] = []
    async for line in lines:
        if line == "":
            text = "\n".join(data)
            if name:
                named = {"event": name, "data": text}
                yield terminal_safe(named if event_id is None else {**named, "id": event_id})
            elif data and isinstance(parsed := _json_or_none(text), dict):
                yield parsed
            elif data:
                on_skip()
            name, event_id, data = "", None, []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("id:"):
            event_id = line[3:].strip()


def _json_or_none(text: str) -> Any:
    try:
        return terminal_safe(json.loads(text))
    except (ValueError, RecursionError):  # RecursionError: nested too deep to decode
        return None


def refusal(reply: httpx.Response) -> str:
    """What an error answer means for the person at the terminal."""
    if reply.status_code == 401:
        return "The server refused the API token (401): check --token or CCFLARE_API_TOKEN"
    if reply.status_code == 403:
        return "The server refused access (403): the token is not allowed"
    try:
        detail = reply.json().get("error")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, dict):  # Anthropic's shape: not a ccflare server, or /v1/
        detail = detail.get("message")
    return terminal_safe(f"{str(detail or reply.reason_phrase)[:200]} (HTTP {reply.status_code})")


def terminal_safe(value: Any) -> Any:
    """Decoded JSON with each control character of its strings (keys too) written as an
    escape such as `\\x1b`; RecursionError for one nested deeper than Python can walk."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list):
        return [terminal_safe(item) for item in value]
    if isinstance(value, dict):
        return {terminal_safe(key): terminal_safe(item) for key, item in value.items()}
    return value


def safe_text(text: str) -> str:
    """`text` with each control character written as an escape such as `\\x1b`: for what
    the screens decode themselves (a captured body), as terminal_safe does for the API's
    JSON. Line breaks and tabs stay."""
    return text if text.isprintable() else _CONTROLS.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def unreachable(base_url: str, error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return f"Cannot reach the server at {base_url}: is it running?"
    if isinstance(error, httpx.TimeoutException):
        return f"The server at {base_url} did not answer in time"
    return f"Lost the connection to {base_url} ({type(error).__name__})"
