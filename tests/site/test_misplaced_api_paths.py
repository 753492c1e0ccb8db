"""A client whose base URL is slightly off gets Anthropic's JSON 404 saying how to fix it.

`ANTHROPIC_BASE_URL=http://host:8080/` makes hand-written clients ask for `//v1/messages`;
Django's HTML 404 page told an SDK nothing it could show.
"""

import json

import pytest
from asgiref.sync import async_to_sync

from ccflare_site.asgi import http_app


def answer(path: str) -> tuple[int, dict, dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [],
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 18777),
    }
    async_to_sync(http_app)(scope, receive, send)
    start, body = sent[0], sent[1]
    return start["status"], dict(start["headers"]), json.loads(body["body"])


@pytest.mark.parametrize("path", ["//v1/messages", "///v1/messages/count_tokens", "/v1"])
def test_an_api_path_behind_extra_slashes_or_without_its_slash_is_a_json_404(path: str) -> None:
    status, headers, body = answer(path)

    assert status == 404
    assert headers[b"content-type"] == b"application/json"
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert "ANTHROPIC_BASE_URL" in body["error"]["message"]
    assert body["error"]["message"].endswith("e.g. http://127.0.0.1:18777")  # its own address
    assert path in body["error"]["message"]


def test_a_hostile_path_is_cut_short_in_the_message() -> None:
    path = "//v1/" + "x" * 5000

    _, _, body = answer(path)

    assert len(body["error"]["message"]) < 600
