"""Answers the proxy gives itself, in Anthropic's error shape, so SDKs raise the right error."""

import json
from collections.abc import Awaitable, Callable, Iterable

Send = Callable[[dict], Awaitable[None]]


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()


async def send_error(
    send: Send,
    *,
    status: int,
    error_type: str,
    message: str,
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
) -> bytes:
    """Send a complete JSON error response; returns the body sent (for the capture)."""
    body = error_body(error_type, message)
    await send_json(send, status=status, body=body, headers=headers)
    return body


async def send_json(
    send: Send,
    *,
    status: int,
    body: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
    content_type: bytes = b"application/json",
) -> None:
    """Send a complete response whose body is JSON, already encoded."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                # A browser never reads the JSON as anything else (as on every Django page).
                (b"x-content-type-options", b"nosniff"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def sse_error_event(message: str) -> bytes:
    """An SSE `error` event: how a stream that dies midway tells an SDK client so."""
    data = json.dumps({"type": "error", "error": {"type": "api_error", "message": message}})
    return f"event: error\ndata: {data}\n\n".encode()
