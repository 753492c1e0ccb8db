"""The proxy end to end: a real daphne running ccflare, the fake upstream in its own process."""

import asyncio
import base64
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import anthropic
import httpx
import pytest

from accounts.models import Account
from analytics.models import Request, RequestPayload
from tests.conftest import FakeUpstream, ProxyServer, header, header_values, wait_for
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db(transaction=True)

KEY_A = "sk-ant-api03-aaaa-secret-account-key-0001"
KEY_B = "sk-ant-api03-bbbb-secret-account-key-0002"
MESSAGE = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


def client(proxy: ProxyServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="client-own-key", base_url=proxy.url, max_retries=0)


def post(proxy: ProxyServer, body: dict = MESSAGE, **kwargs: object) -> httpx.Response:
    headers = {"x-api-key": "client-own-key", "anthropic-version": "2023-06-01"}
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=10, **kwargs)


def recorded(count: int) -> list[Request]:
    rows = wait_for(lambda: Request.objects.count() >= count and list(Request.objects.all()))
    assert len(rows) == count
    return rows


def two_accounts() -> tuple[Account, Account]:
    a = make_account(name="alpha", api_key=KEY_A, priority=0)
    b = make_account(name="beta", api_key=KEY_B, priority=1)
    return a, b


def test_sdk_calls_work_and_are_recorded_with_tokens_and_cost(
    proxy: ProxyServer, fake_upstream: FakeUpstream, prices: None
) -> None:
    make_account(name="work", api_key=KEY_A)
    sdk = client(proxy)
    message = sdk.messages.create(**MESSAGE)
    with sdk.messages.stream(**MESSAGE) as stream:
        pieces = list(stream.text_stream)
    counted = sdk.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGE["messages"])

    assert message.content[0].text.startswith("Hello!")
    assert len(pieces) > 3
    assert "".join(pieces) == message.content[0].text
    assert counted.input_tokens > 0
    rows = sorted(recorded(3), key=lambda r: r.timestamp)
    assert [r.path for r in rows] == ["/v1/messages", "/v1/messages", "/v1/messages/count_tokens"]
    assert [r.is_stream for r in rows] == [False, True, False]
    assert all(r.account.name == "work" and r.status_code == 200 for r in rows)
    assert rows[1].input_tokens == message.usage.input_tokens
    assert rows[1].output_tokens == message.usage.output_tokens
    expected = Decimal(message.usage.input_tokens) * 3 + Decimal(message.usage.output_tokens) * 15
    assert rows[0].cost_usd == expected / 1_000_000
    assert rows[1].output_tokens_per_second is not None
    assert rows[1].time_to_first_token_ms is not None
    assert rows[2].cost_usd is None and rows[2].unpriced is False
    account = Account.objects.get(name="work")
    assert (account.request_count, account.total_requests) == (3, 3)
    assert [header(entry, "x-api-key") for entry in fake_upstream.log()] == [KEY_A] * 3


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_cache_writes_are_recorded_by_lifetime_and_priced_at_each_rate(
    proxy: ProxyServer, fake_upstream: FakeUpstream, prices: None, stream: bool
) -> None:
    make_account(name="only", api_key=KEY_A)
    split = {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000}
    fake_upstream.configure(input_tokens=10, cache_creation=split, output_tokens=10)

    response = post(proxy, {**MESSAGE, "stream": stream})

    assert response.status_code == 200
    (row,) = recorded(1)
    assert (
        row.cache_creation_input_tokens,
        row.cache_creation_5m_tokens,
        row.cache_creation_1h_tokens,
    ) == (3000, 1000, 2000)
    # claude-sonnet-4-6 per million: 10×3 input + 1000×3.75 5m + 2000×6 1h + 10×15 output
    assert row.cost_usd == Decimal("0.01593000")


def test_each_stream_event_reaches_the_client_before_the_upstream_sends_the_next(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.configure(reply_text="alpha bravo")
    headers = {
        "x-api-key": "client-own-key",
        "anthropic-version": "2023-06-01",
        # The fake sends one delta, then waits for release("relay") before the next.
        "x-fake-scenario": "gated_stream;gate=relay;events=2",
    }
    body = {**MESSAGE, "stream": True}
    url = f"{proxy.url}/v1/messages"

    # A relay that holds an event back shows nothing until the fake moves on: the read
    # then times out (the fake waits far longer than the client's 10 s read timeout).
    with httpx.stream("POST", url, json=body, headers=headers, timeout=10) as response:
        chunks = response.iter_raw()
        first = read_until(chunks, b'"text":"alpha "', b"")
        fake_upstream.release("relay")
        second = read_until(chunks, b'"text":"bravo"', first)
        fake_upstream.release("relay")
        whole = second + b"".join(chunks)

    assert b"message_start" in first and b"bravo" not in first
    assert b"message_stop" not in second
    assert whole.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')


def read_until(chunks: Iterator[bytes], marker: bytes, received: bytes) -> bytes:
    """Read from the response until `marker` has arrived; returns everything so far."""
    while marker not in received:
        received += next(chunks)
    return received


def test_session_sticks_to_one_account_over_many_requests(proxy: ProxyServer) -> None:
    make_account(name="first", api_key=KEY_A, priority=5)
    make_account(name="preferred", api_key=KEY_B, priority=1)
    served = {post(proxy).headers["x-ccflare-account"] for _ in range(15)}
    assert served == {"preferred"}
    recorded(15)
    preferred = Account.objects.get(name="preferred")
    assert preferred.session_start is not None
    assert (preferred.request_count, preferred.session_request_count) == (15, 15)
    assert Account.objects.get(name="first").request_count == 0


def test_rate_limited_account_fails_over_in_the_same_call_and_is_skipped_after(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    two_accounts()
    fake_upstream.add_rule(credential=KEY_A, scenario="rate_limited", reset_in=600, times=1)

    first = post(proxy)
    second = post(proxy)

    assert first.status_code == 200 and first.headers["x-ccflare-account"] == "beta"
    assert second.headers["x-ccflare-account"] == "beta"
    alpha = wait_for(lambda: Account.objects.get(name="alpha").rate_limited_until)
    assert alpha > datetime.now(UTC) + timedelta(seconds=590)
    rows = sorted(recorded(2), key=lambda r: r.timestamp)
    assert rows[0].failover_attempts == 1
    assert [t["outcome"] for t in rows[0].routing_trace][0].startswith("rate-limited until")
    assert rows[0].routing_trace[-1] == {
        "account": "beta",
        "id": str(Account.objects.get(name="beta").pk),
        "outcome": "served",
    }
    assert rows[1].routing_trace[0]["outcome"].startswith("rate-limited until")
    assert [header(e, "x-api-key") for e in fake_upstream.log()] == [KEY_A, KEY_B, KEY_B]


def test_answer_that_fills_the_window_is_relayed_and_the_account_skipped_after(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    two_accounts()
    reset = int(time.time()) + 3600
    full_window = {
        "anthropic-ratelimit-unified-status": "allowed_warning",
        "anthropic-ratelimit-unified-5h-utilization": "1.0",
        "anthropic-ratelimit-unified-5h-reset": str(reset),
    }
    fake_upstream.add_rule(credential=KEY_A, status=200, headers=full_window, times=1)

    first = post(proxy)
    second = post(proxy)

    assert (first.status_code, first.headers["x-ccflare-account"]) == (200, "alpha")
    assert second.headers["x-ccflare-account"] == "beta"
    assert len(fake_upstream.log()) == 2  # the full-window answer was not sent again
    alpha = wait_for(lambda: Account.objects.get(name="alpha").rate_limited_until)
    assert int(alpha.timestamp()) == reset
    recorded(2)


def test_all_accounts_rate_limited_gives_429_with_retry_after(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    two_accounts()
    fake_upstream.add_rule(credential="*", scenario="rate_limited", reset_in=300)

    response = post(proxy)

    assert response.status_code == 429
    assert 290 <= int(response.headers["retry-after"]) <= 300
    assert response.json()["error"]["type"] == "rate_limit_error"
    (row,) = recorded(1)
    # Both accounts were asked and answered 429: the proxy's 429 ends a request that went
    # upstream and failed there, on beta, the last account it reached.
    beta = Account.objects.get(name="beta")
    assert (row.status_code, row.terminal_state, row.account_id) == (429, "error", beta.pk)
    assert row.failover_attempts == 2  # moved on from alpha, then from beta to nobody
    assert row.model == MESSAGE["model"]  # no answer named it: the one asked for
    assert len(row.routing_trace) == 2
    again = post(proxy)
    assert again.status_code == 429
    assert len(fake_upstream.log()) == 2  # the second call never reached the upstream
    rows = sorted(recorded(2), key=lambda r: r.timestamp)
    # Nothing went upstream: the proxy's own refusal.
    assert (rows[1].terminal_state, rows[1].account_id, rows[1].failover_attempts) == (
        "rejected",
        None,
        0,
    )
    assert dict(Account.objects.values_list("name", "request_count")) == {"alpha": 0, "beta": 1}


def test_a_429_on_the_only_account_left_is_recorded_on_that_account(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # The audit's case: recorded as `rejected` with no account and no failover, and
    # alpha's counter not bumped, though the request reached alpha and failed there.
    make_account(name="alpha", api_key=KEY_A, priority=0)
    make_account(name="beta", api_key=KEY_B, priority=1, paused=True)
    fake_upstream.add_rule(credential=KEY_A, scenario="rate_limited", reset_in=300)

    response = post(proxy, {**MESSAGE, "stream": True})

    assert response.status_code == 429
    (row,) = recorded(1)
    alpha = Account.objects.get(name="alpha")
    assert (row.status_code, row.terminal_state, row.success) == (429, "error", False)
    assert (row.account_id, row.failover_attempts) == (alpha.pk, 1)
    assert (row.model, row.is_stream) == (MESSAGE["model"], True)
    assert [(step["account"], step["outcome"][:12]) for step in row.routing_trace] == [
        ("beta", "paused"),
        ("alpha", "rate-limited"),
    ]
    assert wait_for(lambda: Account.objects.get(name="alpha").request_count) == 1


def test_paused_accounts_only_gives_503(proxy: ProxyServer) -> None:
    make_account(name="resting", api_key=KEY_A, paused=True)
    response = post(proxy)
    assert response.status_code == 503
    assert response.json()["type"] == "error"
    (row,) = recorded(1)
    assert row.routing_trace == [
        {"account": "resting", "id": str(row.routing_trace[0]["id"]), "outcome": "paused"}
    ]


def test_no_accounts_passes_through_with_client_credentials(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    response = post(proxy)
    assert response.status_code == 200
    assert "x-ccflare-account" not in response.headers
    assert header(fake_upstream.log()[0], "x-api-key") == "client-own-key"
    (row,) = recorded(1)
    assert row.account_id is None and row.success


def test_529_is_retried_on_the_same_account(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential=KEY_A, status=529, times=1)

    response = post(proxy)

    assert response.status_code == 200
    (row,) = recorded(1)
    assert [t["outcome"] for t in row.routing_trace] == [
        "status 529, retried",
        "starts the session",
        "served",
    ]
    assert len(fake_upstream.log()) == 2


def test_persistent_5xx_on_last_account_is_relayed(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential=KEY_A, status=500)
    response = post(proxy)
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "api_error"
    assert len(fake_upstream.log()) == 3  # first try + RETRY_ATTEMPTS=2
    (row,) = recorded(1)
    assert row.status_code == 500 and not row.success
    # The upstream's own message: was None, so an outage left no trace in recent errors.
    assert row.error_message == "Fake error 500"


def test_an_upstream_error_echoing_the_accounts_key_is_recorded_without_it(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # The message is shown in request lists, /api/stats' recentErrors and the dashboard.
    make_account(name="only", api_key=KEY_A)
    error = {"type": "invalid_request_error", "message": f"Key {KEY_A} may not use this"}
    fake_upstream.add_rule(credential=KEY_A, status=400, body={"type": "error", "error": error})

    assert post(proxy).status_code == 400

    (row,) = recorded(1)
    assert row.error_message == "Key [REDACTED] may not use this"


def test_upstream_dropping_mid_stream_is_an_error_for_client_and_record(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential=KEY_A, scenario="drop_mid_stream", times=1)

    with pytest.raises(anthropic.APIError), client(proxy).messages.stream(**MESSAGE) as stream:
        list(stream.text_stream)

    (row,) = recorded(1)
    assert row.terminal_state == "error"
    assert row.success is False
    assert row.input_tokens > 0  # usage seen before the drop is kept
    assert "Upstream connection lost" in row.error_message


def test_client_disconnecting_mid_stream_is_recorded_with_partial_usage(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    body = {**MESSAGE, "stream": True}
    headers = {"x-fake-scenario": "slow_stream;events=50;interval_ms=100"}
    with httpx.stream(
        "POST", f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=10
    ) as response:
        first = next(response.iter_bytes())
    assert b"message_start" in first

    (row,) = recorded(1)
    assert row.terminal_state == "client_cancelled"
    assert row.input_tokens > 0
    assert row.response_time_ms < 4000  # well before the 5 s the full stream takes
    assert Account.objects.get(name="only").request_count == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_client_leaving_before_the_answers_headers_is_recorded_with_its_account(
    proxy: ProxyServer, fake_upstream: FakeUpstream, stream: bool
) -> None:
    # Was recorded with no account, no model and an empty trace: the request was still
    # in failover.forward when the client left, and only the relay filled those in.
    make_account(name="only", api_key=KEY_A)
    headers = {"x-api-key": "client-own-key", "x-fake-delay-ms": "3000"}

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{proxy.url}/v1/messages",
            json={**MESSAGE, "stream": stream},
            headers=headers,
            timeout=1,
        )

    (row,) = recorded(1)
    only = Account.objects.get(name="only")
    assert (row.terminal_state, row.status_code, row.success) == ("client_cancelled", None, False)
    assert (row.account_id, row.model, row.is_stream) == (only.pk, MESSAGE["model"], stream)
    assert row.routing_trace == [
        {"account": "only", "id": str(only.pk), "outcome": "no answer yet when cancelled"}
    ]
    assert row.response_time_ms < 2500  # recorded when the client left, not when the fake answered
    assert len(fake_upstream.log()) == 1
    assert wait_for(lambda: Account.objects.get(name="only").request_count) == 1


def test_a_client_leaving_while_a_200_is_still_read_is_no_success(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # The upstream's 200 came, its body never ended (a trailer a byte at a time): the
    # client left with nothing, and the record said client_cancelled with success true.
    make_account(name="only", api_key=KEY_A)
    headers = {"x-api-key": "client-own-key", "x-fake-scenario": "trickled_trailer"}

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers=headers, timeout=1)

    (row,) = recorded(1)
    assert (row.terminal_state, row.success) == ("client_cancelled", False)
    assert row.response_time_ms < 2500  # recorded when the client left


def test_200_concurrent_requests_are_recorded_one_to_one(proxy: ProxyServer) -> None:
    two_accounts()

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            calls = [
                http.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers={"x-api-key": "c"})
                for _ in range(200)
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    statuses = asyncio.run(burst())

    assert statuses == [200] * 200
    rows = recorded(200)
    assert len({r.id for r in rows}) == 200
    counts = dict(Account.objects.values_list("name", "request_count"))
    assert sum(counts.values()) == 200


def test_malformed_body_gets_400_and_nothing_is_forwarded(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    response = httpx.post(
        f"{proxy.url}/v1/messages",
        content=b"this is not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake_upstream.log() == []
    (row,) = recorded(1)
    assert (row.status_code, row.terminal_state) == (400, "rejected")


def test_oversized_body_gets_413(proxy: ProxyServer, fake_upstream: FakeUpstream) -> None:
    make_account(name="only", api_key=KEY_A)
    big = {**MESSAGE, "messages": [{"role": "user", "content": "x" * (1024 * 1024 + 10)}]}
    response = post(proxy, big)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert fake_upstream.log() == []
    (row,) = recorded(1)
    assert row.status_code == 413


def test_an_oversized_upload_without_a_length_gets_413_and_a_record(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)

    def chunks() -> Iterator[bytes]:  # chunked, 3 MB against the tests' 1 MB limit
        yield b'{"model": "m", "messages": "'
        for _ in range(48):
            yield b"x" * 65536

    response = httpx.post(
        f"{proxy.url}/v1/messages", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert fake_upstream.log() == []
    (row,) = recorded(1)
    assert row.status_code == 413


@pytest.mark.parametrize("expect", [b"", b"Expect: 100-continue\r\n"])
def test_a_body_declared_too_large_is_refused_before_it_is_sent(
    proxy: ProxyServer, fake_upstream: FakeUpstream, expect: bytes
) -> None:
    make_account(name="only", api_key=KEY_A)
    port = int(proxy.url.rsplit(":", 1)[1])
    head = (
        b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 41943040\r\n" + expect + b"\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)  # and not one byte of the 40 MB: the answer must not wait for them
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes; a timeout fails the test
            answer += chunk

    status_line, _, rest = answer.partition(b"\r\n")
    head_text, _, body = rest.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 413 ")  # no "100 Continue" before it
    assert b"connection: close" in head_text.lower()
    assert json.loads(body)["error"]["type"] == "request_too_large"
    assert fake_upstream.log() == []
    (row,) = recorded(1)
    assert row.status_code == 413


def test_a_v1_request_the_server_refuses_before_the_proxy_is_recorded_too(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    port = int(proxy.url.rsplit(":", 1)[1])
    head = b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + b"\r\n\r\n")
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 431 ")
    (row,) = recorded(1)
    assert (row.method, row.path, row.status_code) == ("POST", "/v1/messages", 431)
    assert (row.terminal_state, row.success) == ("rejected", False)
    assert fake_upstream.log() == []


def test_a_client_that_stops_reading_holds_the_stream_back_not_the_servers_memory(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.configure(reply_text="x" * 4096)  # one 4 KB word per delta: 20 MB in all
    body = json.dumps({**MESSAGE, "stream": True}).encode()
    head = (
        b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"x-api-key: c\r\nx-fake-scenario: slow_stream;events=5000;interval_ms=0\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    port = int(proxy.url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(head + body)
        time.sleep(3)  # reading nothing

        # The proxy stopped reading the upstream: the stream is still running, so no record
        # yet. It used to take all 20 MB into its own buffers at once and finish "complete".
        assert Request.objects.count() == 0
    (row,) = recorded(1)
    assert row.terminal_state == "client_cancelled"


def test_invalid_json_inside_object_is_answered_by_upstream_as_400(proxy: ProxyServer) -> None:
    make_account(name="only", api_key=KEY_A)
    response = httpx.post(
        f"{proxy.url}/v1/messages",
        content=b'{"model": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    recorded(1)


def test_no_secret_in_plain_text_in_database_or_payload(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    client_key = "sk-ant-api03-client-sent-this-secret-9999"
    response = httpx.post(
        f"{proxy.url}/v1/messages",
        json=MESSAGE,
        headers={"x-api-key": client_key, "authorization": "Bearer client-bearer-secret-777"},
    )
    assert response.status_code == 200
    (row,) = recorded(1)
    payload = RequestPayload.objects.get(request=row).data
    assert payload["request"]["headers"]["x-api-key"] == "[REDACTED]"
    assert payload["request"]["headers"]["authorization"] == "[REDACTED]"
    dump = database_text()
    for secret in (KEY_A, client_key, "client-bearer-secret-777"):
        assert secret not in dump
        assert secret not in proxy.server_log()


def test_an_error_answer_quoting_the_accounts_key_reaches_nobody_with_it(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # Was: relayed and captured as the upstream sent it, the pool's key included.
    make_account(name="only", api_key=KEY_A)
    quoted = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": f"bad {KEY_A}"},
    }
    fake_upstream.add_rule(credential="*", status=400, body=quoted, times=1)

    response = post(proxy)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "bad [REDACTED]"
    assert int(response.headers["content-length"]) == len(response.content)
    (row,) = recorded(1)
    assert row.error_message == "bad [REDACTED]"
    captured = RequestPayload.objects.get(request=row).data["response"]["body"]
    assert base64.b64decode(captured) == response.content  # the capture is what was relayed


def test_the_clients_credentials_never_travel_next_to_the_accounts_key(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    headers = {"x-api-key": "client-own-key", "authorization": "Bearer client-own-bearer"}

    response = httpx.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers=headers)

    assert response.status_code == 200
    (entry,) = fake_upstream.log()
    assert header_values(entry, "x-api-key") == [KEY_A]
    assert header_values(entry, "authorization") == []


def test_the_clients_credentials_never_travel_next_to_the_accounts_bearer(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_oauth_account(name="max")
    headers = {"x-api-key": "client-own-key", "authorization": "Bearer client-own-bearer"}

    response = httpx.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers=headers)

    assert response.status_code == 200
    (entry,) = fake_upstream.log()
    assert header_values(entry, "authorization") == ["Bearer sk-ant-oat01-max-access-secret"]
    assert header_values(entry, "x-api-key") == []


def test_cookies_and_proxy_credentials_are_redacted_in_captures(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential="*", headers={"set-cookie": "upstream-cookie-secret-1"})
    headers = {
        "cookie": "session=client-cookie-secret-2",
        "proxy-authorization": "Basic proxy-credential-secret-3",
    }

    response = httpx.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers=headers)

    assert response.status_code == 200
    (row,) = recorded(1)
    captured = RequestPayload.objects.get(request=row).data
    assert captured["request"]["headers"]["cookie"] == "[REDACTED]"
    assert captured["request"]["headers"]["proxy-authorization"] == "[REDACTED]"
    # The upstream's Set-Cookie never crosses the proxy (test_failures_e2e), so it is not
    # in the relayed headers captured either.
    assert "set-cookie" not in captured["response"]["headers"]
    dump = database_text()
    assert "upstream-cookie-secret-1" not in dump
    assert "client-cookie-secret-2" not in dump
    assert "proxy-credential-secret-3" not in dump


def database_text() -> str:
    """Every row of every table as text, plus the SQLite files' raw bytes when on SQLite."""
    from django.db import connection

    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            chunks.append(repr(cursor.fetchall()))
    if connection.vendor == "sqlite":
        from pathlib import Path

        name = Path(connection.settings_dict["NAME"])
        for path in (name, name.with_name(name.name + "-wal")):
            if path.exists():
                chunks.append(path.read_bytes().decode("latin-1"))
    return "\n".join(chunks)


def test_query_string_and_other_methods_pass_through(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    response = httpx.get(
        f"{proxy.url}/v1/models?limit=2", headers={"anthropic-version": "2023-06-01"}
    )
    assert response.status_code == 200
    assert response.json()["data"]
    assert fake_upstream.log()[0]["query"] in ("limit=2", {"limit": "2"})
    recorded(1)
