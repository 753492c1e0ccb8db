"""Live streams and client keys against a real daphne (`proxy` fixture) and the fake upstream."""

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from access import credentials
from access.models import ClientKey
from analytics.models import Request
from tests.conftest import FakeUpstream, ProxyServer, header, header_values, wait_for
from tests.factories import make_account

# `prices`: the server caches the price table for seconds; an empty one cached here
# would leave the next module's requests unpriced.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

KEY = "sk-ant-api03-live-account-key-0001"
MESSAGE = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 8,
    "messages": [{"role": "user", "content": "hi"}],
}


def post(proxy: ProxyServer, **headers: str) -> httpx.Response:
    headers = {"anthropic-version": "2023-06-01", **headers}
    return httpx.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers=headers, timeout=10)


def frames(response: httpx.Response) -> Iterator[str]:
    """SSE frames (the lines of one event joined), heartbeat comments included."""
    lines: list[str] = []
    for line in response.iter_lines():
        if line:
            lines.append(line)
        elif lines:
            yield "\n".join(lines)
            lines = []


def data_events(stream: Iterator[str], count: int, *, within: float) -> list[dict]:
    events: list[dict] = []
    deadline = time.monotonic() + within
    while len(events) < count:
        frame = next(stream)
        if frame.startswith("data: "):
            events.append(json.loads(frame[6:]))
        assert time.monotonic() < deadline, f"only {events} within {within} s"
    return events


def test_request_stream_delivers_start_summary_and_payload(proxy: ProxyServer) -> None:
    make_account(name="live", api_key=KEY)
    token = credentials.create_api_token(name="sse")[1]
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{proxy.url}/api/requests/stream", headers=auth, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = frames(r)
        assert next(stream).startswith("event: connected\ndata: ok\nid: ")
        sent = post(proxy, **{"x-api-key": "sk-ant-client-own"})
        start, summary, payload = data_events(stream, 3, within=1.0)

    assert sent.status_code == 200
    assert start["type"] == "start" and start["statusCode"] == 200
    assert start["path"] == "/v1/messages" and start["method"] == "POST"
    assert summary["type"] == "summary"
    assert summary["payload"]["id"] == start["id"]
    assert summary["payload"]["accountUsed"] == start["accountId"]
    assert payload["type"] == "payload"
    assert payload["payload"]["meta"]["path"] == "/v1/messages"
    assert payload["payload"]["request"]["headers"]["x-api-key"] == "[REDACTED]"


def test_request_stream_sends_heartbeats(proxy: ProxyServer) -> None:
    token = credentials.create_api_token(name="sse")[1]
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{proxy.url}/api/requests/stream", headers=auth, timeout=10) as r:
        stream = frames(r)
        next(stream)
        assert next(stream) == ": heartbeat"  # SSE_HEARTBEAT_SECONDS=0.5 in tests


def test_streams_need_a_token(proxy: ProxyServer) -> None:
    assert httpx.get(f"{proxy.url}/api/requests/stream").status_code == 401
    assert httpx.get(f"{proxy.url}/api/logs/stream").status_code == 401


def test_log_stream_delivers_server_log_events(proxy: ProxyServer) -> None:
    token = credentials.create_api_token(name="sse")[1]
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{proxy.url}/api/logs/stream", headers=auth, timeout=10) as r:
        stream = frames(r)
        assert next(stream) == 'data: {"connected": true}'
        httpx.post(f"{proxy.url}/api/maintenance/cleanup", headers=auth).raise_for_status()
        deadline = time.monotonic() + 1.0
        seen = []
        while not any("maintenance.cleanup" in (e.get("msg") or "") for e in seen):
            seen += data_events(stream, 1, within=deadline - time.monotonic())
    entry = next(e for e in seen if "maintenance.cleanup" in e["msg"])
    assert entry["level"] == "INFO" and isinstance(entry["ts"], int)
    history = httpx.get(f"{proxy.url}/api/logs/history?lines=50", headers=auth).json()
    assert any("maintenance.cleanup" in (e["msg"] or "") for e in history)


def test_client_keys_gate_the_proxy_and_never_reach_upstream(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="live", api_key=KEY)
    key, secret = credentials.create_client_key(name="alice")

    refused = post(proxy, **{"x-api-key": "sk-ant-client-own"})
    by_header = post(proxy, **{"x-api-key": secret})
    by_bearer = post(proxy, Authorization=f"Bearer {secret}")

    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    assert (by_header.status_code, by_bearer.status_code) == (200, 200)
    log = fake_upstream.log()
    assert len(log) == 2  # the refused request never left
    assert [header_values(entry, "x-api-key") for entry in log] == [[KEY], [KEY]]
    assert all(secret not in json.dumps(entry["headers"]) for entry in log)
    rows = wait_for(lambda: Request.objects.count() == 3 and list(Request.objects.all()))
    assert sorted(str(r.client_key_id) for r in rows) == sorted([str(key.pk)] * 2 + ["None"])
    assert wait_for(lambda: ClientKey.objects.get(pk=key.pk).last_used_at)

    credentials.create_client_key(name="carol")
    credentials.revoke_client_key(name="alice")
    assert post(proxy, **{"x-api-key": secret}).status_code == 401
    credentials.revoke_client_key(name="carol")
    # No live key left: the proxy stays closed (a leaked key revoked must not open it)...
    assert post(proxy).status_code == 401
    ClientKey.objects.all().delete()
    assert post(proxy).status_code == 200  # ...until every key is deleted


def test_client_key_is_stripped_in_passthrough_mode(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    _, secret = credentials.create_client_key(name="bob")
    post(proxy, Authorization=f"Bearer {secret}", **{"x-api-key": "sk-ant-client-own"})
    (entry,) = fake_upstream.log()
    assert header(entry, "x-api-key") == "sk-ant-client-own"
    assert header_values(entry, "authorization") == []


def test_a_rejected_request_streams_as_ccflare_shows_it(proxy: ProxyServer) -> None:
    """No account and no usage: meta.accountId "no_account", no token fields (ccflare's shape)."""
    token = credentials.create_api_token(name="sse")[1]
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{proxy.url}/api/requests/stream", headers=auth, timeout=10) as r:
        stream = frames(r)
        assert next(stream).startswith("event: connected\ndata: ok\nid: ")
        refused = httpx.post(f"{proxy.url}/v1/messages", content=b"not json", timeout=10)
        summary, payload = data_events(stream, 2, within=1.0)

    assert refused.status_code == 400
    assert summary["type"] == "summary" and summary["payload"]["success"] is False
    assert "totalTokens" not in summary["payload"] and "inputTokens" not in summary["payload"]
    assert payload["payload"]["meta"]["accountId"] == "no_account"
