"""Live streams end with their login: logout, a revoked token (a real daphne, `proxy` fixture).

The server re-checks every SSE_HEARTBEAT_SECONDS (0.5 s in tests, below access.grants'
RECHECK_SECONDS), so a second after the login ended its streams are closed, and a request
sent then reaches none of them.
"""

import json
import socket
import struct
import time
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from access import credentials
from analytics.live import consumers
from tests.analytics.test_live import MESSAGE, frames
from tests.conftest import ProxyServer
from tests.deploy.connections import WebSocket
from tests.factories import make_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

KEY = "sk-ant-api03-live-logout-key-0001"
# Twice the server's re-check interval: by then the stream has noticed.
NOTICED = 1.0


def staff_session() -> str:
    client = Client()
    client.force_login(User.objects.create_user("ops", password="pw", is_staff=True))
    return client.cookies["sessionid"].value


def log_out(proxy: ProxyServer, session_id: str) -> None:
    """The admin's logout as a browser does it: a POST with the page's CSRF token."""
    cookies = {"sessionid": session_id}
    with httpx.Client(base_url=proxy.url, cookies=cookies, timeout=10) as browser:
        browser.get("/admin/").raise_for_status()  # sets the csrftoken cookie
        token = browser.cookies["csrftoken"]
        browser.post("/admin/logout/", data={"csrfmiddlewaretoken": token}).raise_for_status()
    stats = httpx.get(f"{proxy.url}/api/stats", cookies=cookies, timeout=10)
    assert stats.status_code == 401


def send_request(proxy: ProxyServer) -> None:
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-client-own"}
    sent = httpx.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers=headers, timeout=10)
    assert sent.status_code == 200


def rest_of(stream: Iterator[str], *, within: float) -> list[str]:
    """The frames until the server ends the stream; fails if it is still open after `within` s
    (heartbeats every 0.5 s keep frames coming while it is)."""
    deadline = time.monotonic() + within
    rest = []
    for frame in stream:
        rest.append(frame)
        assert time.monotonic() < deadline, f"still open after {within} s: {rest[-3:]}"
    return rest


def test_request_stream_of_a_session_ends_at_logout(proxy: ProxyServer) -> None:
    make_account(name="live", api_key=KEY)
    session_id = staff_session()
    cookies = {"sessionid": session_id}
    url = f"{proxy.url}/api/requests/stream"
    with httpx.stream("GET", url, cookies=cookies, timeout=10) as response:
        stream = frames(response)
        assert next(stream).startswith("event: connected\ndata: ok\nid: ")
        log_out(proxy, session_id)
        time.sleep(NOTICED)
        send_request(proxy)
        rest = rest_of(stream, within=3.0)

    assert [frame for frame in rest if frame.startswith("data:")] == []


def test_log_stream_of_a_revoked_token_ends(proxy: ProxyServer) -> None:
    secret = credentials.create_api_token(name="watcher")[1]
    other = {"Authorization": f"Bearer {credentials.create_api_token(name='ops')[1]}"}
    auth = {"Authorization": f"Bearer {secret}"}
    url = f"{proxy.url}/api/logs/stream"
    with httpx.stream("GET", url, headers=auth, timeout=10) as response:
        stream = frames(response)
        assert next(stream) == 'data: {"connected": true}'
        call_command("revoke_api_token", "watcher")
        assert httpx.get(f"{proxy.url}/api/stats", headers=auth).status_code == 401
        time.sleep(NOTICED)
        httpx.post(f"{proxy.url}/api/maintenance/cleanup", headers=other).raise_for_status()
        rest = rest_of(stream, within=3.0)

    assert [frame for frame in rest if "maintenance.cleanup" in frame] == []


def test_dashboard_socket_closes_at_logout(proxy: ProxyServer) -> None:
    make_account(name="live", api_key=KEY)
    session_id = staff_session()
    port = int(proxy.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    ws = WebSocket(sock, "/ws/dashboard/?topics=requests,logs", cookie=f"sessionid={session_id}")
    assert ws.receive()["type"] == "hello"

    log_out(proxy, session_id)
    time.sleep(NOTICED)
    send_request(proxy)
    texts = []
    deadline = time.monotonic() + 3.0
    opcode, payload = ws.frame()
    while opcode == 0x1:  # log lines of the moment before the server noticed
        texts.append(json.loads(payload))
        assert time.monotonic() < deadline, f"still open after 3 s: {texts[-3:]}"
        opcode, payload = ws.frame()
    sock.close()

    assert opcode == 0x8
    assert struct.unpack("!H", payload[:2])[0] == consumers.LOGGED_OUT
    assert [t for t in texts if t["type"].startswith("request.")] == []
