"""Checking an account's usage against the (fake) OAuth usage endpoint, and who checks when."""

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from accounts import usage_check
from accounts.models import Account, HealthState
from tests.accounts.conftest import refreshes
from tests.conftest import FakeUpstream, account_state, fail_new_connections, header
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db

check = async_to_sync(usage_check.check)
check_due = async_to_sync(usage_check.check_due)
USAGE = "/api/oauth/usage"


def usage_calls(fake: FakeUpstream) -> list[dict]:
    return [entry for entry in fake.log() if entry["path"] == USAGE]


@pytest.mark.parametrize("shape", ["limits", "flat"])
def test_check_stores_both_windows_and_the_per_model_ones(
    oauth_upstream: FakeUpstream, shape: str
) -> None:
    oauth_upstream.configure(
        usage_shape=shape, usage_percent={"five_hour": 42, "seven_day": 7, "Opus": 90}
    )
    account = make_oauth_account(name="work")

    check(account)

    row = Account.objects.get(pk=account.pk)
    now = timezone.now()
    assert row.five_hour_utilization == pytest.approx(0.42)
    assert row.seven_day_utilization == pytest.approx(0.07)
    assert timedelta(hours=1) < row.five_hour_reset - now <= timedelta(hours=2)
    assert timedelta(days=2) < row.seven_day_reset - now <= timedelta(days=3)
    assert list(row.model_windows) == ["opus"]
    assert row.model_windows["opus"]["utilization"] == pytest.approx(0.9)
    assert row.usage_checked_at is not None
    assert [value for _, value in row.five_hour_samples] == [pytest.approx(0.42)]


def test_check_sends_the_token_and_the_oauth_beta(oauth_upstream: FakeUpstream) -> None:
    check(make_oauth_account(name="work"))

    [call] = usage_calls(oauth_upstream)
    assert call["method"] == "GET"
    assert header(call, "authorization") == "Bearer sk-ant-oat01-work-access-secret"
    assert header(call, "anthropic-beta") == "oauth-2025-04-20"
    assert header(call, "accept") == "application/json"


def test_expiring_token_is_refreshed_before_the_check(oauth_upstream: FakeUpstream) -> None:
    account = make_oauth_account(name="work", expires_at=timezone.now() + timedelta(seconds=30))

    check(account)

    assert refreshes(oauth_upstream) == 1
    [call] = usage_calls(oauth_upstream)
    assert header(call, "authorization") == "Bearer sk-ant-oat01-fake-0001"


def test_a_401_is_logged_and_leaves_the_account_healthy(
    oauth_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    oauth_upstream.add_rule(credential="*", path=USAGE, status=401)
    account = make_oauth_account(name="work", five_hour_utilization=0.3)

    with pytest.raises(usage_check.UsageCheckError, match="HTTP 401"):
        check(account)

    row = Account.objects.get(pk=account.pk)
    assert row.health(timezone.now()).state == HealthState.OK
    assert (row.reauth_reason, row.cooldown_until) == (None, None)
    assert (row.five_hour_utilization, row.usage_checked_at) == (0.3, None)
    assert "accounts.usage_refused account=work status=401" in caplog.text


@pytest.mark.parametrize(
    "body", [{"limits": "soon"}, ["five_hour"], {"five_hour": {"utilization": "42%"}}]
)
def test_an_odd_reply_is_skipped_and_changes_nothing(
    oauth_upstream: FakeUpstream, body: Any
) -> None:
    oauth_upstream.add_rule(credential="*", path=USAGE, status=200, body=body)
    account = make_oauth_account(name="work", model_windows={"opus": {"utilization": 0.5}})

    with pytest.raises(usage_check.UsageCheckError, match="held no window"):
        check(account)

    row = Account.objects.get(pk=account.pk)
    assert (row.model_windows, row.usage_checked_at) == ({"opus": {"utilization": 0.5}}, None)


def test_a_window_the_reply_leaves_out_keeps_its_value(oauth_upstream: FakeUpstream) -> None:
    oauth_upstream.configure(usage_percent={"five_hour": 20})
    account = make_oauth_account(name="work", seven_day_utilization=0.55)

    check(account)

    row = Account.objects.get(pk=account.pk)
    assert (row.five_hour_utilization, row.seven_day_utilization) == (0.2, 0.55)
    assert row.model_windows == {}


def test_accounts_without_a_usage_endpoint_are_refused(oauth_upstream: FakeUpstream) -> None:
    with pytest.raises(usage_check.UsageCheckError, match="only Claude Pro/Max"):
        check(make_account(name="key"))

    assert usage_calls(oauth_upstream) == []


def test_due_oauth_accounts_are_checked_once_per_interval(
    oauth_upstream: FakeUpstream, settings: Any
) -> None:
    settings.USAGE_POLL_SECONDS = 300
    make_account(name="key")
    make_oauth_account(name="idle")
    make_oauth_account(name="dead", reauth_reason="refresh token rejected")
    make_oauth_account(name="later", usage_poll_due_at=timezone.now() + timedelta(minutes=3))

    assert check_due() == 1
    assert check_due() == 0

    [call] = usage_calls(oauth_upstream)
    assert header(call, "authorization") == "Bearer sk-ant-oat01-idle-access-secret"
    idle = Account.objects.get(name="idle")
    assert idle.usage_poll_due_at - idle.usage_checked_at == pytest.approx(
        timedelta(seconds=300), abs=timedelta(seconds=1)
    )


def test_only_one_claim_on_a_due_poll_wins(db: None, settings: Any) -> None:
    settings.USAGE_POLL_SECONDS = 300
    account = make_oauth_account(name="work")
    now = timezone.now()
    claim = async_to_sync(usage_check.claim)

    # Two processes that both saw the account due: the second finds it taken.
    assert claim(account, now=now) is True
    assert claim(account, now=now) is False
    assert claim(account, now=now + timedelta(seconds=301)) is True


def test_a_failed_check_waits_for_the_next_interval(
    oauth_upstream: FakeUpstream, settings: Any
) -> None:
    settings.USAGE_POLL_SECONDS = 300
    oauth_upstream.add_rule(credential="*", path=USAGE, status=500, times=1)
    make_oauth_account(name="work")

    assert check_due() == 1
    assert check_due() == 0
    assert len(usage_calls(oauth_upstream)) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("expires_in", "refreshed"),
    [(-timedelta(minutes=1), 2), (timedelta(hours=1), 0)],
    ids=["the-refresh-out", "the-check-out"],
)
async def test_the_poll_out_of_descriptors_marks_no_account_and_tries_again_next_tick(
    oauth_upstream: FakeUpstream,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    expires_in: timedelta,
    refreshed: int,
) -> None:
    # Each expired token's refresh failed alike and cooled its account down, and each
    # account's poll was claimed, so left unchecked for a whole interval.
    settings.USAGE_POLL_SECONDS = 300
    expires_at = timezone.now() + expires_in
    accounts = [
        await sync_to_async(make_oauth_account)(name=name, expires_at=expires_at)
        for name in ("one", "two")
    ]
    before = [account_state(a) for a in accounts]
    fail_new_connections(monkeypatch)

    with pytest.raises(usage_check.OutOfResources, match="EMFILE"):
        await usage_check.check_due()

    # Nothing marked, nothing claimed: both are due for the poller's next tick.
    assert [account_state(await Account.objects.aget(pk=a.pk)) for a in accounts] == before
    assert oauth_upstream.log() == []
    monkeypatch.undo()
    assert await usage_check.check_due() == 2
    assert refreshes(oauth_upstream) == refreshed
