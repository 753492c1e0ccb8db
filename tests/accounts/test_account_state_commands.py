"""The commands that list and change accounts: list, pause, resume, remove, tier, rename."""

import io
import re
import sys
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError
from time_machine import TimeMachineFixture

from accounts import crypto
from accounts.models import Account
from tests.accounts.commands import (
    API_KEY,
    NOW,
    run,
    table_rows,
)
from tests.accounts.conftest import oauth_calls, refreshes
from tests.conftest import FakeUpstream
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db


def test_list_accounts_says_when_there_are_none() -> None:
    assert run("list_accounts") == "No accounts configured.\n"


def test_list_accounts_shows_status_and_session(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)
    make_account(name="ok", priority=0, request_count=3, total_requests=40)
    make_account(name="paused", priority=1, paused=True)
    make_account(name="limited", priority=2, rate_limited_until=NOW + timedelta(seconds=61))
    make_account(
        name="busy",
        priority=3,
        session_start=NOW - timedelta(minutes=5, seconds=30),
        session_request_count=7,
        holds_session=True,
    )

    output = run("list_accounts")

    assert output.splitlines()[0].split() == [
        "Name",
        "Kind",
        "Tier",
        "Priority",
        "Requests",
        "Status",
        "Token",
        "Session",
    ]
    assert table_rows(output) == [
        ["ok", "api_key", "1", "0", "3/40", "OK", "-", "-"],
        ["paused", "api_key", "1", "1", "0/0", "Paused", "-", "-"],
        ["limited", "api_key", "1", "2", "0/0", "Rate limited (2m)", "-", "-"],
        ["busy", "api_key", "1", "3", "0/0", "OK", "-", "7 reqs, 5m ago"],
    ]


def test_list_accounts_ignores_expired_limits_and_sessions(
    time_machine: TimeMachineFixture, settings: Any
) -> None:
    settings.SESSION_DURATION_MS = 60 * 60 * 1000
    time_machine.move_to(NOW, tick=False)
    make_account(
        name="stale",
        rate_limited_until=NOW - timedelta(seconds=1),
        session_start=NOW - timedelta(hours=1),
        session_request_count=9,
    )

    output = run("list_accounts")

    assert table_rows(output) == [["stale", "api_key", "1", "0", "0/0", "OK", "-", "-"]]


def test_list_accounts_never_prints_credentials() -> None:
    make_account(name="work", api_key=API_KEY, access_token="oauth-access-secret-token")

    output = run("list_accounts")

    assert API_KEY not in output
    assert crypto.mask(API_KEY) not in output
    assert "oauth-access-secret-token" not in output


def test_pause_account_pauses_and_reports() -> None:
    make_account(name="work", paused=False)

    output = run("pause_account", "work")

    assert output == "Account 'work' paused\n"
    assert Account.objects.get(name="work").paused is True


def test_pause_account_rejects_an_already_paused_account() -> None:
    make_account(name="work", paused=True)

    with pytest.raises(CommandError, match="Account 'work' is already paused"):
        run("pause_account", "work")


def test_pause_account_rejects_an_unknown_name() -> None:
    with pytest.raises(CommandError, match="Account 'ghost' not found"):
        run("pause_account", "ghost")


def test_a_name_with_the_spaces_add_account_trims_is_found() -> None:
    # add_account trims "  my acct "; set_tier and the others then said "not found".
    make_account(name="my acct")

    run("set_tier", "  my acct ", "5")

    assert Account.objects.get(name="my acct").tier == 5


def test_resume_account_resumes_and_reports() -> None:
    make_account(name="work", paused=True)

    output = run("resume_account", "work")

    assert output == "Account 'work' resumed\n"
    assert Account.objects.get(name="work").paused is False


def test_resume_account_rejects_an_account_that_is_not_paused() -> None:
    make_account(name="work", paused=False)

    with pytest.raises(CommandError, match="Account 'work' is not paused"):
        run("resume_account", "work")


def test_resume_account_rejects_an_unknown_name() -> None:
    with pytest.raises(CommandError, match="Account 'ghost' not found"):
        run("resume_account", "ghost")


def test_remove_account_with_force_does_not_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    make_account(name="work")
    monkeypatch.setattr("builtins.input", pytest.fail)

    output = run("remove_account", "work", "--force")

    assert output == "Account 'work' removed\n"
    assert not Account.objects.exists()


def test_remove_account_removes_after_typing_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    make_account(name="work")
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "work")

    output = run("remove_account", "work")

    assert prompts == ["Type the account name 'work' to confirm removal: "]
    assert output == "Account 'work' removed\n"
    assert not Account.objects.exists()


def test_remove_account_keeps_the_account_on_a_wrong_confirmation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_account(name="work")
    monkeypatch.setattr("builtins.input", lambda prompt: "wrok")

    with pytest.raises(CommandError, match="Confirmation did not match; nothing removed"):
        run("remove_account", "work")

    assert Account.objects.filter(name="work").exists()


def test_remove_account_keeps_the_account_without_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_account(name="work")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    with pytest.raises(CommandError, match=r"No confirmation given; nothing removed \(--force"):
        run("remove_account", "work")

    assert Account.objects.filter(name="work").exists()


def test_remove_account_rejects_an_unknown_name_before_asking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("builtins.input", pytest.fail)

    with pytest.raises(CommandError, match="Account 'ghost' not found"):
        run("remove_account", "ghost")


def test_set_tier() -> None:
    make_account(name="work")

    assert run("set_tier", "work", "20") == "Account 'work' is now tier 20\n"
    assert Account.objects.get(name="work").tier == 20


def test_set_tier_rejects_an_unknown_tier() -> None:
    make_account(name="work")

    with pytest.raises(CommandError, match="Tier must be one of 1, 5, 20"):
        run("set_tier", "work", "3")


def test_set_priority() -> None:
    make_account(name="work")

    assert run("set_priority", "work", "-2") == "Account 'work' now has priority -2\n"
    assert Account.objects.get(name="work").priority == -2


@pytest.mark.parametrize("priority", ["1000001", "-1000001", "99999999999999999999999"])
def test_set_priority_refuses_what_the_api_refuses(priority: str) -> None:
    make_account(name="work", priority=3)

    # The last once ended in a traceback (an int too large for SQLite's INTEGER).
    with pytest.raises(CommandError, match="Priority must be between -1000000 and 1000000"):
        run("set_priority", "work", priority)

    assert Account.objects.get(name="work").priority == 3


def test_add_account_refuses_a_priority_out_of_range() -> None:
    key = "sk-ant-api03-" + "k" * 40
    with pytest.raises(CommandError, match="Priority must be between"):
        run("add_account", "work", "--api-key", key, "--priority", "2000000")

    assert not Account.objects.exists()


def test_rename_account_keeps_everything_else() -> None:
    old = make_account(name="work", request_count=7)

    assert run("rename_account", "work", "home") == "Account 'work' renamed to 'home'\n"
    account = Account.objects.get(pk=old.pk)
    assert (account.name, account.request_count) == ("home", 7)


@pytest.mark.parametrize(("new", "message"), [("   ", "Name must not be empty"),
                                              ("a\nb", "Name may only use letters")])  # fmt: skip
def test_rename_account_refuses_an_invalid_name(new: str, message: str) -> None:
    make_account(name="work")

    with pytest.raises(CommandError, match=message):
        run("rename_account", "work", new)

    assert Account.objects.get().name == "work"


def test_rename_account_refuses_a_taken_name() -> None:
    make_account(name="work")
    make_account(name="home")

    with pytest.raises(CommandError, match="Account name 'home' is already taken"):
        run("rename_account", "work", "home")


@pytest.mark.parametrize(
    "args",
    [("set_tier", "ghost", "5"), ("set_priority", "ghost", "1"), ("rename_account", "ghost", "x")],
)
def test_commands_reject_an_unknown_account(args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError, match="Account 'ghost' not found"):
        run(*args)


def test_refresh_tokens_refreshes_every_oauth_account(oauth_upstream: FakeUpstream) -> None:
    make_oauth_account(name="a")
    make_oauth_account(name="b")
    make_account(name="key")

    output = run("refresh_tokens")

    assert refreshes(oauth_upstream) == 2
    assert [line.split(":")[0] for line in output.splitlines()] == ["Account 'a'", "Account 'b'"]
    assert "token refreshed, valid until" in output


def test_refresh_tokens_for_one_account(oauth_upstream: FakeUpstream) -> None:
    make_oauth_account(name="a")
    make_oauth_account(name="b")

    run("refresh_tokens", "b")

    assert oauth_calls(oauth_upstream)["refresh_counts"] == {"sk-ant-ort01-b-refresh-secret": 1}


def test_refresh_tokens_reports_a_rejected_token(oauth_upstream: FakeUpstream) -> None:
    make_oauth_account(name="a")
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=401, times=1)

    with pytest.raises(CommandError, match="1 of 1 refreshes failed"):
        run("refresh_tokens", "a")

    assert Account.objects.get(name="a").reauth_reason.startswith("refresh token rejected")


def test_refresh_tokens_refuses_an_account_without_a_refresh_token() -> None:
    make_account(name="key")

    with pytest.raises(CommandError, match=r"Account 'key' has no refresh token \(API key\)"):
        run("refresh_tokens", "key")


def test_list_accounts_shows_health_reasons_and_token_state(
    time_machine: TimeMachineFixture,
) -> None:
    time_machine.move_to(NOW, tick=False)
    make_oauth_account(name="max", priority=0, expires_at=NOW + timedelta(hours=7, minutes=59))
    make_oauth_account(name="soon", priority=1, expires_at=NOW + timedelta(minutes=9, seconds=1))
    make_oauth_account(
        name="dead", priority=2, expires_at=NOW, reauth_reason="refresh token rejected"
    )
    make_account(
        name="hot",
        priority=3,
        cooldown_until=NOW + timedelta(seconds=20),
        cooldown_reason="HTTP 503 after 3 retries",
    )
    make_account(name="ci", priority=4, kind=Account.Kind.SETUP_TOKEN)

    rows = [re.split(r" {2,}", line) for line in run("list_accounts").splitlines()[2:]]

    assert [(r[0], r[5], r[6]) for r in rows] == [
        ("max", "OK", "valid (7h)"),
        ("soon", "OK", "valid (10m)"),
        ("dead", "Needs re-auth: refresh token rejected", "expired"),
        ("hot", "Cooling down (1m): HTTP 503 after 3 retries", "-"),
        ("ci", "OK", "long-lived"),
    ]
