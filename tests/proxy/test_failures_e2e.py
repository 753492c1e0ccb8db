"""Failures end fast and leave the pool whole: cut replies, hostile headers and credentials.

End to end through a real daphne and the fake upstream.
"""

import os
import resource
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

from access import credentials
from accounts.models import Account
from analytics.models import Request
from analytics.reporting import queries
from proxy import attempts
from tests import servers
from tests.conftest import (
    QUIESCE_SECONDS,
    FakeUpstream,
    ProxyServer,
    account_state,
    header_values,
    proxy_env,
    wait_for,
)
from tests.factories import make_account
from tests.proxy.test_proxy_e2e import KEY_A, KEY_B, MESSAGE, recorded, two_accounts

pytestmark = pytest.mark.django_db(transaction=True)


def post(proxy: ProxyServer, body: dict = MESSAGE, **headers: str) -> httpx.Response:
    # A short timeout: a call that hangs is the bug some of these tests look for.
    sent = {"x-api-key": "client-own-key", **{k.replace("_", "-"): v for k, v in headers.items()}}
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers=sent, timeout=5)


@pytest.mark.parametrize("scenario", ["drop_mid_stream", "short_body"])
def test_a_json_reply_cut_midway_ends_the_call_at_once_with_an_api_error(
    proxy: ProxyServer, fake_upstream: FakeUpstream, scenario: str
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential=KEY_A, scenario=scenario, times=1)

    # Before the fix the client got 200 and a Content-Length that never arrived (60 s).
    response = post(proxy)

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"
    assert response.headers["x-ccflare-account"] == "only"  # whose reply was cut
    (row,) = recorded(1)
    assert (row.status_code, row.terminal_state, row.success) == (502, "error", False)
    assert "Upstream connection lost" in row.error_message
    assert row.model == MESSAGE["model"]  # the cut reply never named it: the one asked for


def test_a_success_whose_json_is_unreadable_is_recorded_with_the_model_asked_for(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # Was recorded with no model: the answer never named one.
    make_account(name="only", api_key=KEY_A)
    cut = '{"id": "msg_x", "usage": {"input_tokens": '
    json_type = {"content-type": "application/json"}
    fake_upstream.add_rule(credential=KEY_A, status=200, body=cut, headers=json_type, times=1)

    response = post(proxy)

    assert (response.status_code, response.text) == (200, cut)
    (row,) = recorded(1)
    assert (row.model, row.status_code) == (MESSAGE["model"], 200)


def test_a_network_error_on_every_account_is_an_upstream_error_on_the_last_one_reached(
    proxy: ProxyServer,
) -> None:
    # Was recorded as `rejected` (the proxy's own refusal) with no account, and as not a
    # stream though the client asked for one.
    _, beta = two_accounts()

    response = post(proxy, {**MESSAGE, "stream": True}, x_fake_scenario="drop_before_headers")

    assert response.status_code == 502
    (row,) = recorded(1)
    assert (row.status_code, row.terminal_state, row.success) == (502, "error", False)
    assert (row.account_id, row.failover_attempts) == (beta.pk, 2)
    assert (row.model, row.is_stream) == (MESSAGE["model"], True)
    assert [step["account"] for step in row.routing_trace] == ["alpha", "beta"]


def test_a_pooled_connection_lost_as_the_request_went_out_sends_it_once_more_and_says_so(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    assert post(proxy).status_code == 200  # leaves a pooled connection
    fake_upstream.add_rule(credential=KEY_A, scenario="drop_before_headers", times=1)

    response = post(proxy)

    assert response.status_code == 200
    assert len([e for e in fake_upstream.log() if e["path"] == "/v1/messages"]) == 3
    row = max(recorded(2), key=lambda row: row.timestamp)
    assert [step["outcome"] for step in row.routing_trace] == [attempts._RESENT, "served"]


def test_a_network_error_without_accounts_is_an_upstream_error_too(proxy: ProxyServer) -> None:
    response = post(proxy, {**MESSAGE, "stream": True}, x_fake_scenario="drop_before_headers")

    assert response.status_code == 502
    (row,) = recorded(1)
    assert (row.status_code, row.terminal_state, row.account_id) == (502, "error", None)
    assert (row.model, row.is_stream) == (MESSAGE["model"], True)


CLOUDFLARE_502 = (
    "<!DOCTYPE html><html><head><title>api.anthropic.com | 502: Bad gateway</title></head>"
    "<body><h1>Bad gateway</h1><p>Cloudflare</p></body></html>"
)


def test_a_storm_of_html_error_pages_is_relayed_and_recorded_with_a_message(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    # Recorded with no message, the storm showed in no list of errors (the dashboard's,
    # /api/stats'): only the success rate fell.
    two_accounts()
    fake_upstream.add_rule(credential="*", status=502, body=CLOUDFLARE_502)

    response = post(proxy, {**MESSAGE, "stream": True})

    assert (response.status_code, response.text) == (502, CLOUDFLARE_502)
    (row,) = recorded(1)
    assert (row.status_code, row.success) == (502, False)
    assert row.error_message == "HTTP 502 from the upstream (text/html, not an API error)"
    assert queries.recent_errors(Request.objects.all(), limit=5) == [row.error_message]
    assert [a.health(datetime.now(UTC)).state for a in Account.objects.all()] == ["ok", "ok"]


def large_body(size: int) -> bytes:
    """What the fake's large_body scenario sends: its 64 KB piece of JSON lines, repeated."""
    line = b'{"custom_id":"x","result":{"type":"succeeded"}}\n'
    piece = line * (65536 // len(line))
    return (piece * (size // len(piece) + 1))[:size]


@pytest.mark.parametrize("chunked", ["0", "1"])
def test_a_reply_larger_than_what_is_held_whole_is_relayed_in_full(
    proxy: ProxyServer, fake_upstream: FakeUpstream, chunked: str
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential=KEY_A, scenario="large_body", mb=20, chunked=chunked)

    response = post(proxy)

    assert response.status_code == 200
    assert response.content == large_body(20 * 1024 * 1024)
    (row,) = recorded(1)
    assert (row.status_code, row.terminal_state, row.success) == (200, "complete", True)


@pytest.mark.parametrize("chunked", ["0", "1"])
def test_a_large_reply_cut_midway_is_cut_for_the_client_too(
    proxy: ProxyServer, fake_upstream: FakeUpstream, chunked: str
) -> None:
    # Relayed as it arrives (held whole, 20 MB would take several times that in memory),
    # so the status line is out when the cut comes: the client must see the answer cut,
    # never a complete-looking one or a hang.
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(
        credential=KEY_A, scenario="large_body", mb=20, cut="1", chunked=chunked, times=1
    )
    sent = {"x-api-key": "client-own-key"}

    with (
        httpx.stream("POST", f"{proxy.url}/v1/messages", json=MESSAGE, headers=sent) as response,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        assert response.status_code == 200
        response.read()

    (row,) = recorded(1)
    assert (row.terminal_state, row.success) == ("error", False)
    assert "Upstream connection lost" in row.error_message


def test_a_hostile_deeply_nested_reply_is_relayed_and_recorded(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential=KEY_A, scenario="deep_json", depth=100_000, times=1)

    response = post(proxy)

    assert response.status_code == 200
    assert len(response.content) == 600_001  # relayed whole
    (row,) = recorded(1)
    assert (row.status_code, row.terminal_state) == (200, "complete")


def test_a_reply_naming_a_model_no_database_can_store_is_recorded_and_so_is_the_next(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    # Written by hand: the escape of a lone surrogate, which Python's JSON reads as one.
    reply = '{"type":"message","model":"claude-\\udc80","usage":{"input_tokens":3}}'
    rule = '{"credential":"*","status":200,"times":1,"body":' + reply + "}"
    httpx.post(f"{fake_upstream.url}/_fake/rules", content=rule).raise_for_status()

    odd, plain = post(proxy), post(proxy)

    assert (odd.status_code, plain.status_code) == (200, 200)
    rows = recorded(2)  # once this failed every flush, for ever, holding back the rest
    assert sorted(row.model for row in rows) == sorted(["claude-\ufffd", MESSAGE["model"]])


def test_hop_by_hop_headers_and_cookies_never_cross_the_proxy(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential=KEY_A, headers={"set-cookie": "upstream=1; Path=/"})
    response = post(
        proxy,
        connection="keep-alive, x-private-hop",
        x_private_hop="secret",
        cookie="sessionid=dashboard-session",
        x_kept="yes",
    )

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    (entry,) = fake_upstream.log()
    assert header_values(entry, "x-private-hop") == []
    assert header_values(entry, "cookie") == []
    assert header_values(entry, "x-kept") == ["yes"]


# Header lines no client could read, and the server log's line about them (once a name).
# Relayed, names that are no token made Twisted refuse to write the answer (the client
# waited for ever); values with a control character were an "illegal header line" to
# httpx (and the SDK sent the call again).
UNREADABLE_NAMES = (
    "bad name: x\r\nx/y: x\r\na@b{c};d=e,f: x\r\nx-\u00e9: x\r\n",
    "upstream.header_dropped name=bad name bad=name",
)
UNREADABLE_VALUES = (
    "x-nul: a\x00b\r\nx-bell: a\x07b\r\nx-cr: a\rset-cookie: forged=1\r\n",
    "upstream.header_dropped name=x-nul bad=value",
)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("fields", "logged"), [UNREADABLE_NAMES, UNREADABLE_VALUES], ids=["names", "values"]
)
def test_header_lines_no_client_could_read_are_left_out_and_the_answer_relayed(
    proxy: ProxyServer, fake_upstream: FakeUpstream, fields: str, logged: str, stream: bool
) -> None:
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential=KEY_A, scenario="raw_head", fields=fields + "x-kept: yes\r\n")

    response = post(proxy, {**MESSAGE, "stream": stream})

    assert response.status_code == 200
    assert b"Hello!" in response.content
    relayed = [name for name in response.headers if name.startswith("x-")]
    assert relayed == ["x-kept", "x-ccflare-account"]
    assert "set-cookie" not in response.headers
    assert len(fake_upstream.log()) == 1
    (row,) = recorded(1)
    assert (row.status_code, row.terminal_state, row.success) == (200, "complete", True)
    assert logged in proxy.server_log()


@pytest.mark.parametrize("status", ["000 Zero", "099 X", "600 X", "999 Weird"])
def test_an_answer_whose_status_is_no_http_status_is_an_upstream_error(
    proxy: ProxyServer, fake_upstream: FakeUpstream, status: str
) -> None:
    # Relayed, 000 and 099 were an illegal status line to clients (the SDK sent the call
    # three times, each recorded complete); 600 and 999 were retried as server errors,
    # then relayed.
    make_account(name="only", api_key=KEY_A)
    fake_upstream.add_rule(credential=KEY_A, scenario="raw_head", status_line=f"HTTP/1.1 {status}")

    response = post(proxy)

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"
    assert len(fake_upstream.log()) == 1
    (row,) = recorded(1)
    assert (row.status_code, row.terminal_state, row.success) == (502, "error", False)


def test_an_absurd_reset_header_benches_the_account_and_fails_over(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    two_accounts()
    absurd = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": "99999999999999999999",
        "anthropic-ratelimit-unified-7d-reset": "nan",
    }
    fake_upstream.add_rule(credential=KEY_A, status=429, headers=absurd)

    response = post(proxy)

    assert (response.status_code, response.headers["x-ccflare-account"]) == (200, "beta")
    alpha = wait_for(lambda: Account.objects.filter(name="alpha", rate_limited_until__isnull=False))
    assert alpha, "alpha was not marked rate-limited"


def test_an_account_whose_credential_cannot_be_sent_is_skipped_not_a_502(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="broken", api_key="sk-ant-api03-bad\r\nx-injected: 1", priority=0)
    make_account(name="good", api_key=KEY_B, priority=1)

    response = post(proxy)

    assert (response.status_code, response.headers["x-ccflare-account"]) == (200, "good")
    broken = wait_for(lambda: Account.objects.get(name="broken").reauth_reason)
    assert "cannot be sent" in broken
    (entry,) = fake_upstream.log()
    assert header_values(entry, "x-injected") == []


def test_messages_still_flow_after_every_hardening(
    proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="only", api_key=KEY_A)

    response = post(proxy, MESSAGE)

    assert response.status_code == 200
    assert response.json()["type"] == "message"


# The application name the server of the test below gives its PostgreSQL connections
# (libpq reads PGAPPNAME), so that the test closes those and no others.
RESTARTED_APP = "ccflare-restart-test"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connections")
def test_after_postgresql_closed_the_connections_the_next_request_sees_the_database(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    # A PostgreSQL restart closes the connections the snapshots' threads keep. The first
    # reload after it failed on its closed connection, and the request was routed from the
    # snapshots before, however old: a client key created meanwhile was refused, and an
    # account paused meanwhile served.
    fake_upstream.reset()
    two_accounts()
    old = credentials.create_client_key(name="old")[1]
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "PGAPPNAME": RESTARTED_APP}
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
        try:
            server = ProxyServer(f"http://127.0.0.1:{port}", tmp_path / "server.log")
            assert post(server, x_api_key=old).headers["x-ccflare-account"] == "alpha"
            time.sleep(QUIESCE_SECONDS)  # its account updates written: nothing left pending
            assert close_connections(RESTARTED_APP) > 0  # as a restart does
            Account.objects.filter(name="alpha").update(paused=True)
            credentials.revoke_client_key(name="old")
            new = credentials.create_client_key(name="new")[1]

            with_new = post(server, x_api_key=new)
            with_old = post(server, x_api_key=old)
        finally:
            servers.stop(process)

    assert (with_new.status_code, with_new.headers.get("x-ccflare-account")) == (200, "beta")
    assert with_old.status_code == 401


def close_connections(application_name: str) -> int:
    """Close the backends of `application_name` from the server's side; how many there were."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name]
        )
        pids = [pid for (pid,) in cursor.fetchall()]
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", [pids])

    def gone() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
            return cursor.fetchone() == (0,)

    assert wait_for(gone)
    return len(pids)


def test_a_server_that_could_not_read_its_database_yet_sends_nothing_upstream(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    # As a worker started, or started again after a crash, while the database is away: it
    # has no snapshot of the client keys or the accounts to serve from. Empty ones read as
    # "no keys, no accounts", so every request was let in and sent upstream with the
    # client's own credentials (its client key included), and /health said "ok".
    fake_upstream.reset()
    unreachable = f"postgres://ccflare:ccflare@127.0.0.1:{servers.free_port()}/ccflare"
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "DATABASE_URL": unreachable}
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
        try:
            server = ProxyServer(f"http://127.0.0.1:{port}", tmp_path / "server.log")
            health = httpx.get(f"{server.url}/health", timeout=5)
            response = post(server, x_api_key="cck_a-client-key-of-this-proxy")
        finally:
            servers.stop(process)

    assert health.status_code == 503
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "api_error"
    assert fake_upstream.log() == []


@pytest.fixture
def own_proxy(
    fake_upstream: FakeUpstream, transactional_db: None, tmp_path: Path
) -> Iterator[tuple[ProxyServer, int]]:
    """A daphne of this test's own, whose descriptor limit the test lowers; it keeps no
    upstream connection from other tests (a kept one needs no new descriptor)."""
    fake_upstream.reset()
    env = proxy_env(data_dir=tmp_path, upstream=fake_upstream)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
        try:
            yield ProxyServer(f"http://127.0.0.1:{port}", log_path, env), process.pid
        finally:
            servers.stop(process)


def stored_states(*accounts: Account) -> list[dict[str, Any]]:
    return [account_state(Account.objects.get(pk=account.pk)) for account in accounts]


def lowest_free_descriptor(pid: int) -> int:
    """The number the process's next descriptor will get (always the lowest free one)."""
    used = {int(name) for name in os.listdir(f"/proc/{pid}/fd")}
    return min(set(range(len(used) + 1)) - used)


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="lowers a process's limit: Linux")
def test_the_proxy_out_of_descriptors_answers_503_blames_no_account_and_records_it(
    own_proxy: tuple[ProxyServer, int], fake_upstream: FakeUpstream
) -> None:
    # Out of descriptors, connecting upstream failed as a network error: the walk blamed
    # the first account, tried the next (which failed alike) and answered 502.
    proxy, pid = own_proxy
    alpha, beta = two_accounts()
    servers.wait_accounts(proxy.url, 2)
    # Refused before it goes upstream (no upstream connection kept), and recorded: the
    # recorder's database connection is open now and needs no descriptor later.
    malformed = httpx.post(f"{proxy.url}/v1/messages", content=b"[]", timeout=5)
    assert malformed.status_code == 400
    recorded(1)
    time.sleep(QUIESCE_SECONDS)
    before = stored_states(alpha, beta)
    # One descriptor left: the client's connection takes it, the upstream's finds none.
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free_descriptor(pid) + 1, limits[1]))
    try:
        response = post(proxy)
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    error = response.json()
    message = error["error"]["message"]
    assert error == {"type": "error", "error": {"type": "api_error", "message": message}}
    assert message.startswith("The proxy is out of local resources (EMFILE: Too many open")
    assert fake_upstream.log() == []
    (row,) = [row for row in recorded(2) if row.status_code == 503]
    assert (row.terminal_state, row.error_message, row.account_id) == ("error", message, None)
    assert row.failover_attempts == 0
    assert [step["account"] for step in row.routing_trace] == ["alpha"]
    time.sleep(QUIESCE_SECONDS)
    assert stored_states(alpha, beta) == before
    assert proxy.server_log().count("proxy.out_of_resources") == 1
