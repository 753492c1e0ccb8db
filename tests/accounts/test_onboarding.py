"""Onboarding: the two-step login, long-lived tokens, re-authentication and session sweeping."""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from time_machine import TimeMachineFixture

from accounts import oauth, onboarding
from accounts.models import Account, HealthState, OAuthSession
from tests.accounts.conftest import oauth_calls
from tests.conftest import FakeUpstream, header
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
start = async_to_sync(onboarding.start)
finish = async_to_sync(onboarding.finish)


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def raw_column(model: type, column: str, pk: object) -> str:
    """A column as stored, bypassing the field's decryption."""
    db_pk = model._meta.pk.get_db_prep_value(pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [db_pk])
        return cursor.fetchone()[0]


def test_start_keeps_a_pending_login_for_ten_minutes(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)

    started = start(name="work", mode="max", tier=5, priority=2)

    session = OAuthSession.objects.get(pk=started.session_id)
    assert (session.account_name, session.mode, session.tier, session.priority) == (
        "work",
        "max",
        5,
        2,
    )
    assert session.expires_at == NOW + timedelta(minutes=10)
    query = parse_qs(urlsplit(started.auth_url).query)
    assert query["state"] == [session.state]
    assert query["code_challenge"] == [oauth.challenge_for(session.verifier)]
    assert started.reauth is False


def test_verifier_is_encrypted_at_rest() -> None:
    started = start(name="work")

    session = OAuthSession.objects.get(pk=started.session_id)
    raw = raw_column(OAuthSession, "verifier", started.session_id)
    assert session.verifier not in raw


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": "bad/name"}, "Name may only use letters, digits"),
        ({"name": ""}, "Name must not be empty"),
        ({"name": "x" * 101}, "Name must be at most 100 characters"),
        ({"name": "work", "mode": "team"}, "Mode must be 'max' or 'console'"),
        ({"name": "work", "tier": 3}, "Tier must be one of 1, 5, 20"),
    ],
)
def test_start_refuses_bad_input(arguments: dict, message: str) -> None:
    with pytest.raises(onboarding.OnboardingError, match=message):
        start(**arguments)

    assert not OAuthSession.objects.exists()


def test_max_login_stores_refreshable_tokens(oauth_upstream: FakeUpstream) -> None:
    started = start(name="work", mode="max", tier=20, priority=3)

    finished = finish(
        session_id=started.session_id, pasted_code=f"code1#{state_of(started.auth_url)}"
    )

    account = Account.objects.get(name="work")
    issued = oauth_calls(oauth_upstream)["issued"][0]
    assert finished.created and finished.message == "Account 'work' added successfully!"
    assert (account.kind, account.tier, account.priority) == (Account.Kind.OAUTH, 20, 3)
    assert account.access_token == issued["access_token"]
    assert account.refresh_token == issued["refresh_token"]
    assert account.expires_at > datetime.now(UTC) + timedelta(hours=7)
    assert account.api_key is None
    assert not OAuthSession.objects.exists()


def test_max_login_without_a_refresh_token_is_refused_and_saves_nothing(
    oauth_upstream: FakeUpstream,
) -> None:
    # ccflare made such a login a Console API key: billed per token, not by the subscription.
    make_oauth_account(name="work", refresh_token="sk-ant-ort01-old")
    grant = {"access_token": "sk-ant-oat01-alone-token", "expires_in": 3600, "token_type": "Bearer"}
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=200, body=grant)
    started = start(name="work", mode="max")

    with pytest.raises(onboarding.OnboardingError, match="no refresh token"):
        finish(session_id=started.session_id, pasted_code=f"code1#{state_of(started.auth_url)}")

    account = Account.objects.get(name="work")
    assert (account.kind, account.refresh_token) == (Account.Kind.OAUTH, "sk-ant-ort01-old")
    assert oauth_calls(oauth_upstream)["api_keys"] == []


def test_console_login_stores_only_the_created_api_key(oauth_upstream: FakeUpstream) -> None:
    started = start(name="console", mode="console")

    finish(session_id=started.session_id, pasted_code=f"code1#{state_of(started.auth_url)}")

    account = Account.objects.get(name="console")
    calls = oauth_calls(oauth_upstream)
    assert account.kind == Account.Kind.CONSOLE
    assert account.api_key == calls["api_keys"][0]
    assert (account.access_token, account.refresh_token, account.expires_at) == (None, None, None)
    temporary = calls["issued"][0]
    assert header(oauth_upstream.log()[-1], "authorization") == (
        f"Bearer {temporary['access_token']}"
    )


def test_code_pasted_without_its_state_is_accepted(oauth_upstream: FakeUpstream) -> None:
    started = start(name="work")

    finish(session_id=started.session_id, pasted_code="code1")

    assert oauth_upstream.log()[0]["json"]["state"] == state_of(started.auth_url)
    assert Account.objects.filter(name="work").exists()


def test_code_of_another_login_is_refused(oauth_upstream: FakeUpstream) -> None:
    started = start(name="work")

    with pytest.raises(onboarding.OnboardingError, match="belongs to another login attempt"):
        finish(session_id=started.session_id, pasted_code="code1#someone-elses-state")

    assert oauth_upstream.log() == []
    assert OAuthSession.objects.filter(pk=started.session_id).exists()


def test_rejected_code_keeps_the_login_open_for_another_try(oauth_upstream: FakeUpstream) -> None:
    started = start(name="work")
    finish(session_id=start(name="other").session_id, pasted_code="used-code")

    with pytest.raises(oauth.GrantRejected):
        finish(session_id=started.session_id, pasted_code="used-code")

    finish(session_id=started.session_id, pasted_code="fresh-code")
    assert Account.objects.filter(name="work").exists()


def test_expired_login_cannot_be_finished_and_is_swept(
    oauth_upstream: FakeUpstream, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(NOW, tick=False)
    started = start(name="work")
    time_machine.move_to(NOW + timedelta(minutes=10, seconds=1), tick=False)

    with pytest.raises(onboarding.OnboardingError, match=onboarding.EXPIRED_MESSAGE):
        finish(session_id=started.session_id, pasted_code="code1")

    assert not OAuthSession.objects.exists()
    assert oauth_upstream.log() == []


@pytest.mark.parametrize("session_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
def test_unknown_login_is_refused(session_id: str) -> None:
    with pytest.raises(onboarding.OnboardingError, match=onboarding.EXPIRED_MESSAGE):
        finish(session_id=session_id, pasted_code="code1")


def test_sweep_deletes_only_expired_logins(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)
    start(name="old")
    time_machine.move_to(NOW + timedelta(minutes=6), tick=False)
    young = start(name="young")
    time_machine.move_to(NOW + timedelta(minutes=10), tick=False)

    assert onboarding.sweep_expired() == 1

    assert list(OAuthSession.objects.values_list("pk", flat=True)) == [young.session_id]


def test_new_login_for_an_existing_name_replaces_credentials_and_health(
    oauth_upstream: FakeUpstream,
) -> None:
    old = make_oauth_account(
        name="work",
        tier=20,
        priority=4,
        request_count=12,
        reauth_reason="refresh token rejected",
        failure_streak=3,
    )
    started = start(name="work")
    assert started.reauth is True

    finished = finish(session_id=started.session_id, pasted_code="code1")

    account = Account.objects.get(pk=old.pk)
    assert finished.message == "Account 'work' re-authenticated successfully!"
    assert account.access_token == oauth_calls(oauth_upstream)["issued"][0]["access_token"]
    assert account.health(datetime.now(UTC)).state == HealthState.OK
    assert (account.failure_streak, account.reauth_reason) == (0, None)
    assert (account.tier, account.priority, account.request_count) == (20, 4, 12)
    assert Account.objects.count() == 1


def test_a_login_for_an_account_renamed_meanwhile_replaces_that_accounts_credentials(
    oauth_upstream: FakeUpstream,
) -> None:
    # Was: bound to the name, it added a second "w3" and left the renamed one as it was.
    old = make_oauth_account(name="w3", access_token="sk-ant-oat01-old-w3-0001")
    started = start(name="w3")
    Account.objects.filter(pk=old.pk).update(name="w3-renamed")

    finished = finish(session_id=started.session_id, pasted_code="code1")

    account = Account.objects.get()
    assert (account.pk, account.name) == (old.pk, "w3-renamed")
    assert account.access_token == oauth_calls(oauth_upstream)["issued"][0]["access_token"]
    assert finished.message == "Account 'w3-renamed' re-authenticated successfully!"


def test_a_new_accounts_login_leaves_alone_an_account_given_its_name_meanwhile(
    oauth_upstream: FakeUpstream,
) -> None:
    # Was: the other account ("w6" renamed to it, or another login's) got the new tokens.
    started = start(name="newx", tier=20)
    other = make_oauth_account(name="newx", tier=1, access_token="sk-ant-oat01-other-0001")

    with pytest.raises(onboarding.OnboardingError, match="An account named 'newx' was added"):
        finish(session_id=started.session_id, pasted_code="code1")

    other.refresh_from_db()
    assert (other.access_token, other.tier) == ("sk-ant-oat01-other-0001", 1)


def test_two_logins_for_one_new_name_add_it_once(oauth_upstream: FakeUpstream) -> None:
    first, second = start(name="dup"), start(name="dup")
    assert (first.reauth, second.reauth) == (False, False)

    added = finish(session_id=first.session_id, pasted_code="code1")
    with pytest.raises(onboarding.OnboardingError, match="was added meanwhile"):
        finish(session_id=second.session_id, pasted_code="code2")

    assert added.created
    issued = oauth_calls(oauth_upstream)["issued"][0]["access_token"]
    assert Account.objects.get(name="dup").access_token == issued


def test_a_login_for_an_account_deleted_meanwhile_is_gone_with_it(
    oauth_upstream: FakeUpstream,
) -> None:
    # Was: the login added a new account of that name.
    make_oauth_account(name="gone")
    started = start(name="gone")
    Account.objects.filter(name="gone").delete()

    with pytest.raises(onboarding.OnboardingError, match="expired or invalid"):
        finish(session_id=started.session_id, pasted_code="code1")

    assert not Account.objects.exists()


def test_console_login_over_an_oauth_account_leaves_no_tokens(oauth_upstream: FakeUpstream) -> None:
    make_oauth_account(name="work")

    finish(session_id=start(name="work", mode="console").session_id, pasted_code="code1")

    account = Account.objects.get(name="work")
    assert account.kind == Account.Kind.CONSOLE
    assert (account.access_token, account.refresh_token) == (None, None)


def test_setup_token_creates_a_long_lived_account() -> None:
    finished = onboarding.add_setup_token(name="ci", token=" sk-ant-oat01-long-lived \n", tier=5)

    account = finished.account
    assert (account.kind, account.access_token, account.tier) == (
        Account.Kind.SETUP_TOKEN,
        "sk-ant-oat01-long-lived",
        5,
    )
    assert account.refresh_token is None
    assert account.token_status(datetime.now(UTC)) == "long-lived"


def test_setup_token_for_an_existing_account_replaces_its_credential() -> None:
    make_account(name="ci", reauth_reason="credential rejected", tier=20)

    finished = onboarding.add_setup_token(name="ci", token="sk-ant-oat01-new-long-lived")

    account = Account.objects.get(name="ci")
    assert not finished.created
    assert (account.kind, account.api_key, account.tier) == (Account.Kind.SETUP_TOKEN, None, 20)
    assert account.health(datetime.now(UTC)).state == HealthState.OK


def test_empty_setup_token_is_refused(settings: Any) -> None:
    with pytest.raises(onboarding.OnboardingError, match="Token must not be empty"):
        onboarding.add_setup_token(name="ci", token="  ")
