"""Notifications from a real daphne to a real webhook receiver, caused by what the upstream says."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accounts.models import Account
from tests import servers
from tests.conftest import FakeUpstream, proxy_env, wait_for
from tests.factories import make_account
from tests.webhook import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-ant-api03-notify-e2e-key-0001"
MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}
# Long enough to hold a second notice back; the repeat after it is the unit tests' business.
REPEAT_SECONDS = 3600
# A notice the server would send arrives well within this, so none by then means none sent.
SETTLE_SECONDS = 0.5


@pytest.fixture
def server(
    fake_upstream: FakeUpstream, webhook: WebhookReceiver, tmp_path: Path, django_db_setup: None
) -> Iterator[str]:
    """A daphne of its own (its notices held back are its own) posting to `webhook`."""
    fake_upstream.reset()
    env = {
        **proxy_env(data_dir=tmp_path, upstream=fake_upstream),
        "NOTIFY_WEBHOOK_URL": webhook.url,
        "NOTIFY_REPEAT_SECONDS": str(REPEAT_SECONDS),
    }
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
        yield f"http://127.0.0.1:{port}"
        servers.stop(process)


def post(server: str) -> httpx.Response:
    return httpx.post(f"{server}/v1/messages", json=MESSAGE, timeout=10)


def test_a_rejected_key_sends_one_reauth_notice(
    server: str, fake_upstream: FakeUpstream, webhook: WebhookReceiver
) -> None:
    account = make_account(name="work", api_key=KEY)
    fake_upstream.add_rule(credential=KEY, path="/v1/messages", status=401)

    assert post(server).status_code == 401
    (notice,) = wait_for(lambda: webhook.events("account_needs_reauth"))
    assert notice["account"] == "work"
    assert notice["text"].startswith("ccflare: account work needs re-auth")
    # Given a new key (still refused) within the repeat window: needs re-auth again, no notice.
    wait_for(lambda: Account.objects.get(pk=account.pk).reauth_reason)
    Account.objects.filter(pk=account.pk).update(reauth_reason=None)
    assert post(server).status_code == 401
    wait_for(lambda: Account.objects.get(pk=account.pk).reauth_reason)
    time.sleep(SETTLE_SECONDS)

    assert len(webhook.events("account_needs_reauth")) == 1


def test_a_request_nobody_can_serve_sends_one_empty_pool_notice(
    server: str, webhook: WebhookReceiver
) -> None:
    make_account(name="work", api_key=KEY, paused=True)

    assert post(server).status_code == 503
    assert post(server).status_code == 503
    (notice,) = wait_for(lambda: webhook.events("pool_exhausted"))
    time.sleep(SETTLE_SECONDS)

    assert len(webhook.events("pool_exhausted")) == 1
    assert notice["account"] is None
    assert notice["message"] == "No usable account (work: paused)"
    assert "HTTP 503" in notice["text"]


def test_a_window_past_90_percent_sends_one_notice(
    server: str, fake_upstream: FakeUpstream, webhook: WebhookReceiver
) -> None:
    make_account(name="work", api_key=KEY)
    nearly_full = {"anthropic-ratelimit-unified-5h-utilization": "0.95"}
    fake_upstream.add_rule(credential=KEY, path="/v1/messages", headers=nearly_full)

    assert post(server).status_code == 200
    assert post(server).status_code == 200
    (notice,) = wait_for(lambda: webhook.events("window_nearly_full"))
    time.sleep(SETTLE_SECONDS)

    assert webhook.received == [notice]  # the 7-day window (3% used) says nothing
    assert notice["account"] == "work"
    assert notice["message"] == "5-hour window 95% used"
