"""Credentials a 401 refused are asked about again (accounts.recheck), against the fake upstream.

Before, an API key or long-lived token refused once stayed in "needs re-auth" for good:
one incident that answered 401 for every key took the whole pool down until each key was
pasted again.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from accounts import health, recheck
from accounts.models import Account, HealthState
from tests import servers
from tests.conftest import FakeUpstream, header, proxy_env, wait_for
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db

KEY = "sk-ant-api03-recheck-key-0001"
check_due = async_to_sync(recheck.check_due)


@pytest.fixture
def fake(fake_upstream: FakeUpstream, settings: Any) -> Iterator[FakeUpstream]:
    settings.UPSTREAM_BASE_URL = fake_upstream.url
    settings.CREDENTIAL_RECHECK_SECONDS = 60
    fake_upstream.reset()
    recheck._schedule.clear()
    yield fake_upstream
    fake_upstream.reset()
    recheck._schedule.clear()


def rejected(**fields: Any) -> Account:
    return make_account(reauth_reason=health.REJECTED_BY_UPSTREAM, **fields)


def models_calls(fake: FakeUpstream) -> list[dict]:
    return [entry for entry in fake.log() if entry["path"] == "/v1/models"]


def test_a_rejected_key_the_upstream_takes_again_serves_again(fake: FakeUpstream) -> None:
    account = rejected(name="key", api_key=KEY, failure_streak=3)

    assert check_due(now=0) == 0  # first seen: asked CREDENTIAL_RECHECK_SECONDS later
    assert check_due(now=59) == 0
    assert check_due(now=60) == 1

    (call,) = models_calls(fake)
    assert (call["method"], header(call, "x-api-key")) == ("GET", KEY)
    row = Account.objects.get(pk=account.pk)
    assert (row.reauth_reason, row.failure_streak) == (None, 0)
    assert row.health(timezone.now()).state == HealthState.OK
    assert check_due(now=10_000) == 0 and len(models_calls(fake)) == 1


def test_a_key_refused_again_is_asked_twice_as_late_each_time(fake: FakeUpstream) -> None:
    account = rejected(name="key", api_key=KEY)
    fake.add_rule(credential=KEY, status=401, path="/v1/models")

    check_due(now=0)
    asked = [t for t in (60, 119, 180, 299, 420) if check_due(now=t)]

    assert asked == [60, 180, 420]  # then 120 s, then 240 s later
    assert Account.objects.get(pk=account.pk).reauth_reason == health.REJECTED_BY_UPSTREAM


def test_a_key_without_an_answer_is_asked_again_after_the_same_delay(fake: FakeUpstream) -> None:
    account = rejected(name="key", api_key=KEY)
    fake.add_rule(credential=KEY, status=503, path="/v1/models", times=1)

    check_due(now=0)
    asked = [t for t in (60, 119, 120) if check_due(now=t)]

    assert asked == [60, 120]
    assert Account.objects.get(pk=account.pk).reauth_reason is None


def test_a_long_lived_token_is_asked_with_its_bearer(fake: FakeUpstream) -> None:
    token = "sk-ant-oat01-recheck-long-lived"
    account = rejected(
        name="setup", kind=Account.Kind.SETUP_TOKEN, api_key=None, access_token=token
    )

    check_due(now=0)
    check_due(now=60)

    (call,) = models_calls(fake)
    assert header(call, "authorization") == f"Bearer {token}"
    assert "oauth-2025-04-20" in header(call, "anthropic-beta")
    assert Account.objects.get(pk=account.pk).reauth_reason is None


def test_other_reasons_and_refreshable_accounts_are_not_asked(fake: FakeUpstream) -> None:
    make_account(name="malformed", reauth_reason="stored credential cannot be sent")
    make_oauth_account(name="oauth", reauth_reason=health.REJECTED_BY_UPSTREAM)

    check_due(now=0)

    assert check_due(now=10_000) == 0
    assert models_calls(fake) == []


def test_new_credentials_meanwhile_are_left_alone(fake: FakeUpstream) -> None:
    account = rejected(name="key", api_key=KEY)
    check_due(now=0)
    Account.objects.filter(pk=account.pk).update(reauth_reason=None)

    assert check_due(now=60) == 0
    assert recheck._schedule == {}


@pytest.mark.django_db(transaction=True)
def test_a_running_server_brings_back_every_key_an_incident_refused(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    # An incident answers Anthropic's own 401 to every key: the pool goes to "needs
    # re-auth" on one request. Once it is over, the server finds out by itself.
    fake_upstream.reset()
    make_account(name="a", api_key="sk-ant-api03-recheck-a-0001", priority=0)
    make_account(name="b", api_key="sk-ant-api03-recheck-b-0002", priority=1)
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream)}
    env["CREDENTIAL_RECHECK_SECONDS"] = "1"
    fake_upstream.add_rule(credential="*", status=401, times=2)
    message = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": []}
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
        try:
            url = f"http://127.0.0.1:{port}/v1/messages"
            assert httpx.post(url, json=message, timeout=10).status_code == 401
            rejections = Account.objects.filter(reauth_reason=health.REJECTED_BY_UPSTREAM)
            assert wait_for(lambda: rejections.count() == 2)

            wait_for(lambda: not Account.objects.exclude(reauth_reason=None).exists(), timeout=15)
            assert httpx.post(url, json=message, timeout=10).status_code == 200
        finally:
            servers.stop(process)
