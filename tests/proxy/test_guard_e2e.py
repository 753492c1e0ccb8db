"""/v1/ trusts no path, Host or Origin: end to end through a real daphne and the fake upstream.

http.client sends the request line as written, so the hostile paths reach the server
exactly as an attacker's `curl --path-as-is` would send them.
"""

import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest

from accounts.models import Account
from analytics.models import Request
from tests.conftest import FakeUpstream, ProxyServer, wait_for
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-ant-api03-guard-test-account-key-0001"
BODY = json.dumps(
    {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
).encode()


def raw_request(
    proxy: ProxyServer,
    method: str,
    path: str,
    *,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send `path` byte for byte; returns status, lower-cased headers and body."""
    netloc = urlsplit(proxy.url).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"host": netloc, "content-type": "application/json", **(headers or {})}
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.putheader("content-length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
    finally:
        connection.close()


def error_type(payload: bytes) -> str:
    data = json.loads(payload)
    assert data["type"] == "error"
    return data["error"]["type"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/../api/oauth/claude_cli/create_api_key",
        "/v1/%2e%2e/admin",
        "/v1/.%2e/.%2e/x",
        "/v1//../admin",
        "/v1/%2E%2E/admin",
        "/v1/messages/../../admin",
        "/v1/./messages",
        "/v1/a%2fb",
        "/v1/a%5c..%5cb",
        "/v1/messages%00",
    ],
)
def test_a_path_that_could_leave_v1_is_refused_and_nothing_is_sent(
    proxy: ProxyServer, fake_upstream: FakeUpstream, path: str
) -> None:
    make_oauth_account(name="sub")
    make_account(name="key", api_key=KEY, priority=1)

    status, _headers, payload = raw_request(proxy, "POST", path, body=b"{}")

    assert status == 400
    assert error_type(payload) == "invalid_request_error"
    assert fake_upstream.log() == []
    row = wait_for(lambda: Request.objects.first())
    assert (row.status_code, row.terminal_state) == (400, "rejected")


def test_the_path_goes_upstream_exactly_as_validated(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="key", api_key=KEY)

    status, _headers, _payload = raw_request(proxy, "POST", "/v1/messages?beta=true")
    models_status, _h, _p = raw_request(proxy, "GET", "/v1/models?limit=5", body=b"")

    assert (status, models_status) == (200, 200)
    first, second = fake_upstream.log()
    assert (first["path"], first["query"]) == ("/v1/messages", "beta=true")
    assert (second["path"], second["query"]) == ("/v1/models", "limit=5")


def test_a_401_off_the_inference_endpoints_condemns_no_account(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="alpha", api_key=KEY)
    make_account(name="beta", api_key=KEY + "-b", priority=1)
    fake_upstream.add_rule(credential="*", path="/v1/files", status=401)

    status, _headers, _payload = raw_request(proxy, "GET", "/v1/files", body=b"")

    assert status == 401
    assert len(fake_upstream.log()) == 1  # relayed, not walked through the pool
    status, headers, _payload = raw_request(proxy, "POST", "/v1/messages")
    assert (status, headers["x-ccflare-account"]) == (200, "alpha")  # the pool is unhurt
    assert list(Account.objects.values_list("reauth_reason", flat=True)) == [None, None]


def test_a_401_on_messages_still_condemns_an_api_key(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="alpha", api_key=KEY)
    fake_upstream.add_rule(credential=KEY, path="/v1/messages", status=401)

    status, _headers, _payload = raw_request(proxy, "POST", "/v1/messages")

    assert status == 401
    assert wait_for(lambda: Account.objects.get().reauth_reason)


WEBSOCKET_UPGRADE = {
    "connection": "Upgrade",
    "upgrade": "websocket",
    "sec-websocket-version": "13",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.mark.parametrize("path", ["/v1/models", "/%76%31/models"])
def test_a_websocket_upgrade_is_refused_in_anthropics_shape_and_recorded(
    proxy: ProxyServer, fake_upstream: FakeUpstream, path: str
) -> None:
    # daphne's websocket protocol took it and answered a bare "403 Access denied".
    make_account(name="key", api_key=KEY)

    status, _headers, payload = raw_request(proxy, "GET", path, body=b"", headers=WEBSOCKET_UPGRADE)

    assert status == 400
    assert error_type(payload) == "invalid_request_error"
    assert fake_upstream.log() == []
    row = wait_for(lambda: Request.objects.first())
    assert (row.status_code, row.terminal_state) == (400, "rejected")
    assert Request.objects.count() == 1


@pytest.mark.parametrize("method", ["CONNECT", "TRACE", "FOO", "get"])
def test_a_method_no_api_is_called_with_is_refused_and_never_sent_with_a_credential(
    proxy: ProxyServer, fake_upstream: FakeUpstream, method: str
) -> None:
    # Was forwarded upstream with the account's key; the client got the upstream's
    # text/plain answer instead of Anthropic's error shape.
    make_account(name="key", api_key=KEY)

    status, _headers, payload = raw_request(proxy, method, "/v1/models", body=b"")

    assert status == 405
    assert error_type(payload) == "invalid_request_error"
    assert json.loads(payload)["error"]["message"] == f"Method {method} is not allowed"
    assert fake_upstream.log() == []
    row = wait_for(lambda: Request.objects.first())
    assert (row.status_code, row.terminal_state) == (405, "rejected")


def test_a_folded_header_is_refused_in_anthropics_shape_and_recorded(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="key", api_key=KEY)
    head = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
    url = urlsplit(proxy.url)
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(head + b"X-A: a\r\n Transfer-Encoding: chunked\r\n\r\n{}")
        answer = sock.makefile("rb").read()

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert error_type(answer.partition(b"\r\n\r\n")[2]) == "invalid_request_error"
    assert fake_upstream.log() == []
    row = wait_for(lambda: Request.objects.first())
    assert (row.status_code, row.terminal_state, row.path) == (400, "rejected", "/v1/messages")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.nip.io"])
def test_a_host_outside_allowed_hosts_is_refused(
    proxy: ProxyServer, fake_upstream: FakeUpstream, host: str
) -> None:
    make_account(name="key", api_key=KEY)

    status, _headers, payload = raw_request(proxy, "POST", "/v1/messages", headers={"host": host})

    assert status == 400
    assert error_type(payload) == "invalid_request_error"
    assert fake_upstream.log() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example", "content-type": "text/plain"},
        {"origin": "http://evil.example", "sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "null"},
    ],
)
def test_a_cross_site_browser_request_is_refused(
    proxy: ProxyServer, fake_upstream: FakeUpstream, headers: dict[str, str]
) -> None:
    make_account(name="key", api_key=KEY)

    status, _headers, payload = raw_request(proxy, "POST", "/v1/messages", headers=headers)

    assert status == 403
    assert error_type(payload) == "permission_error"
    assert fake_upstream.log() == []


def test_an_allowed_origin_gets_cors_answers(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="key", api_key=KEY)
    origin = {"origin": "http://allowed.example"}

    pre_status, pre_headers, _ = raw_request(
        proxy,
        "OPTIONS",
        "/v1/messages",
        body=b"",
        headers={
            **origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-api-key, anthropic-version",
        },
    )
    status, headers, _ = raw_request(
        proxy, "POST", "/v1/messages", headers={**origin, "sec-fetch-site": "cross-site"}
    )

    assert pre_status == 204
    assert pre_headers["access-control-allow-origin"] == "http://allowed.example"
    assert pre_headers["access-control-allow-headers"] == "x-api-key, anthropic-version"
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://allowed.example"
    assert len(fake_upstream.log()) == 1  # the preflight never went upstream


def test_the_proxy_s_own_origin_and_sdks_pass(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="key", api_key=KEY)
    own = proxy.url

    status, _headers, _ = raw_request(proxy, "POST", "/v1/messages", headers={"origin": own})
    sdk_status, _headers, _ = raw_request(proxy, "POST", "/v1/messages")

    assert (status, sdk_status) == (200, 200)
