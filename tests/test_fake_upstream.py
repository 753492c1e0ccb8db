"""The fake Anthropic upstream speaks the wire format the proxy relies on, over real sockets."""

import json
import time
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from tests.conftest import header, header_values
from tests.servers import start_fake_upstream, stop

STREAM_EVENTS = ["message_start", "content_block_start", "ping"]
STREAM_END = ["content_block_stop", "message_delta", "message_stop"]
KEY = {"x-api-key": "sk-ant-api03-test"}
REQUEST = {
    "model": "claude-test-1",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hi"}],
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    process, port = start_fake_upstream()
    yield f"http://127.0.0.1:{port}"
    stop(process)


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        client.post("/_fake/reset").raise_for_status()
        yield client


def parse_sse(raw: str) -> list[tuple[str, dict]]:
    events = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_json_reply_has_the_messages_shape(client: httpx.Client) -> None:
    response = client.post("/v1/messages", json=REQUEST, headers=KEY)

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {
        "id",
        "type",
        "role",
        "model",
        "content",
        "stop_reason",
        "stop_sequence",
        "usage",
    }
    assert (body["type"], body["role"], body["model"]) == ("message", "assistant", "claude-test-1")
    assert body["content"][0]["type"] == "text"
    assert body["usage"]["input_tokens"] == 25
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["anthropic-ratelimit-unified-status"] == "allowed"
    assert int(response.headers["anthropic-ratelimit-unified-reset"]) > time.time()


def test_stream_sends_the_event_sequence_with_usage(client: httpx.Client) -> None:
    client.post("/_fake/config", json={"reply_text": "one two three", "cache_read_input_tokens": 7})

    response = client.post("/v1/messages", json={**REQUEST, "stream": True}, headers=KEY)

    events = parse_sse(response.text)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert [name for name, _ in events] == [
        *STREAM_EVENTS,
        *["content_block_delta"] * 3,
        *STREAM_END,
    ]
    start_usage = events[0][1]["message"]["usage"]
    assert start_usage["input_tokens"] == 25
    assert start_usage["cache_creation_input_tokens"] == 0
    assert start_usage["cache_read_input_tokens"] == 7
    assert start_usage["output_tokens"] == 1
    assert "".join(data["delta"]["text"] for name, data in events[3:6]) == "one two three"
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert events[-2][1]["usage"]["output_tokens"] == 3


def test_anthropic_sdk_create_and_stream_work_against_it(
    client: httpx.Client, base_url: str
) -> None:
    sdk = anthropic.Anthropic(api_key="sk-ant-api03-sdk", base_url=base_url, max_retries=0)

    message = sdk.messages.create(**REQUEST)
    with sdk.messages.stream(**REQUEST) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert message.content[0].text == final.content[0].text == streamed
    assert final.usage.output_tokens == len(streamed.split())
    assert final.stop_reason == "end_turn"


def test_cache_writes_split_by_lifetime_come_with_their_total(client: httpx.Client) -> None:
    split = {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 4}
    client.post("/_fake/config", json={"cache_creation": split})

    usage = client.post("/v1/messages", json=REQUEST, headers=KEY).json()["usage"]

    assert (usage["cache_creation"], usage["cache_creation_input_tokens"]) == (split, 7)


def test_rule_rate_limits_one_credential_only(client: httpx.Client) -> None:
    client.post(
        "/_fake/rules",
        json={"credential": "limited", "scenario": "rate_limited", "reset_in": 30, "times": 1},
    )

    limited = client.post("/v1/messages", json=REQUEST, headers={"x-api-key": "limited"})
    other = client.post("/v1/messages", json=REQUEST, headers={"authorization": "Bearer other"})
    limited_again = client.post("/v1/messages", json=REQUEST, headers={"x-api-key": "limited"})

    assert limited.status_code == 429
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert limited.headers["retry-after"] == "30"
    assert limited.headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert abs(int(limited.headers["anthropic-ratelimit-unified-reset"]) - (time.time() + 30)) < 5
    assert (other.status_code, limited_again.status_code) == (200, 200)


def test_rule_status_without_body_answers_in_the_error_shape(client: httpx.Client) -> None:
    client.post("/_fake/rules", json={"credential": "*", "status": 529, "times": 2})

    first = client.post("/v1/messages", json=REQUEST, headers=KEY)
    client.post("/v1/messages", json=REQUEST, headers=KEY)
    third = client.post("/v1/messages", json=REQUEST, headers=KEY)

    assert first.status_code == 529
    assert first.json()["type"] == "error"
    assert first.json()["error"]["type"] == "overloaded_error"
    assert first.json()["request_id"] == first.headers["request-id"]
    assert third.status_code == 200
    assert client.get("/_fake/rules").json() == []


def test_rule_with_status_200_adds_headers_to_the_normal_reply(client: httpx.Client) -> None:
    warning = {"anthropic-ratelimit-unified-status": "allowed_warning"}
    client.post("/_fake/rules", json={"credential": "*", "headers": warning})

    response = client.post("/v1/messages", json=REQUEST, headers=KEY)

    assert response.headers["anthropic-ratelimit-unified-status"] == "allowed_warning"
    assert response.json()["type"] == "message"


def test_drop_mid_stream_ends_without_a_terminator(client: httpx.Client) -> None:
    received = bytearray()
    headers = {**KEY, "x-fake-scenario": "drop_mid_stream"}

    with (
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
        client.stream(
            "POST", "/v1/messages", json={**REQUEST, "stream": True}, headers=headers
        ) as response,
    ):
        for chunk in response.iter_raw():
            received += chunk

    assert b"event: message_start" in received
    assert b"message_stop" not in received


def test_slow_stream_spaces_out_its_deltas(client: httpx.Client) -> None:
    headers = {**KEY, "x-fake-scenario": "slow_stream;events=3;interval_ms=100"}

    started = time.monotonic()
    response = client.post("/v1/messages", json={**REQUEST, "stream": True}, headers=headers)

    names = [name for name, _ in parse_sse(response.text)]
    assert time.monotonic() - started >= 0.3
    assert names == [*STREAM_EVENTS, *["content_block_delta"] * 3, *STREAM_END]


def test_delay_header_holds_back_the_response(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.post("/v1/messages", json=REQUEST, headers={**KEY, "x-fake-delay-ms": "200"})

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_oauth_refresh_rotates_and_rejects_reuse(client: httpx.Client) -> None:
    code = {
        "grant_type": "authorization_code",
        "code": "c1",
        "code_verifier": "v",
        "client_id": "x",
    }
    first = client.post("/v1/oauth/token", json=code).json()

    refreshed = client.post(
        "/v1/oauth/token",
        json={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    reused = client.post(
        "/v1/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    state = client.get("/_fake/oauth").json()

    assert first["expires_in"] == 28800
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != first["refresh_token"]
    assert refreshed.json()["access_token"] != first["access_token"]
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert state["refresh_counts"] == {first["refresh_token"]: 2}


def test_create_api_key_needs_a_bearer_token(client: httpx.Client) -> None:
    path = "/api/oauth/claude_cli/create_api_key"

    created = client.post(path, headers={"authorization": "Bearer sk-ant-oat01-x"})
    refused = client.post(path)

    assert created.json()["raw_key"].startswith("sk-ant-api03-")
    assert refused.status_code == 401


def test_missing_credential_and_unknown_path_use_the_error_shape(client: httpx.Client) -> None:
    unauthenticated = client.post("/v1/messages", json=REQUEST)
    unknown = client.get("/v1/nothing-here", headers=KEY)

    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["type"] == "authentication_error"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "not_found_error"


def test_count_tokens_and_models(client: httpx.Client) -> None:
    counted = client.post("/v1/messages/count_tokens", json=REQUEST, headers=KEY)
    models = client.get("/v1/models", headers=KEY)

    assert counted.json() == {"input_tokens": 25}
    assert models.json()["data"][0]["type"] == "model"
    assert models.json()["has_more"] is False


def test_log_records_received_requests_with_headers(client: httpx.Client) -> None:
    client.post(
        "/v1/messages?beta=true",
        json=REQUEST,
        headers={**KEY, "anthropic-beta": "oauth-2025-04-20"},
    )

    (entry,) = client.get("/_fake/log").json()

    assert (entry["method"], entry["path"], entry["query"]) == ("POST", "/v1/messages", "beta=true")
    assert header(entry, "anthropic-beta") == "oauth-2025-04-20"
    assert header(entry, "x-api-key") == "sk-ant-api03-test"
    assert entry["json"] == REQUEST
    assert entry["body_bytes"] == len(json.dumps(REQUEST, separators=(",", ":")))


def test_log_keeps_a_header_sent_twice(client: httpx.Client) -> None:
    twice = [("x-api-key", "first-key"), ("X-Api-Key", "second-key")]
    client.post("/v1/messages", json=REQUEST, headers=twice)

    (entry,) = client.get("/_fake/log").json()

    assert header_values(entry, "x-api-key") == ["first-key", "second-key"]
