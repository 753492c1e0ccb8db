"""Tests for the account management commands, run through call_command."""

import io
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from time_machine import TimeMachineFixture

from accounts import crypto
from accounts.management.commands import add_account
from accounts.models import Account
from tests.factories import make_account

pytestmark = pytest.mark.django_db

API_KEY = "sk-ant-api03-command-test-key-abcd"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SUPERUSER_ENV = ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL")


def run(*args: str, **options: Any) -> str:
    """Run a command and return what it wrote to stdout."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue()


def stored_api_key_column(name: str) -> str:
    """The raw api_key column, bypassing the field's decryption."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT api_key FROM {Account._meta.db_table} WHERE name = %s",
            [name],
        )
        return cursor.fetchone()[0]


def table_rows(output: str) -> list[list[str]]:
    """The data rows of list_accounts output, split into cells."""
    return [re.split(r" {2,}", line) for line in output.splitlines()[2:]]


@pytest.fixture
def superuser_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SUPERUSER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# add_account


def test_add_account_prints_a_masked_summary() -> None:
    output = run("add_account", "work", "--api-key", API_KEY)

    assert output == "Account 'work' added (API key sk-ant-…abcd, tier 1, priority 0)\n"


def test_add_account_stores_the_key_encrypted() -> None:
    run("add_account", "work", "--api-key", API_KEY)

    raw = stored_api_key_column("work")
    assert Account.objects.get(name="work").api_key == API_KEY
    assert API_KEY not in raw
    assert crypto.decrypt(raw) == API_KEY


def test_add_account_saves_tier_and_priority() -> None:
    output = run("add_account", "work", "--api-key", API_KEY, "--tier", "20", "--priority", "3")

    account = Account.objects.get(name="work")
    assert (account.tier, account.priority) == (20, 3)
    assert output == "Account 'work' added (API key sk-ant-…abcd, tier 20, priority 3)\n"


def test_add_account_reads_the_key_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{API_KEY}\n"))

    output = run("add_account", "work", "--api-key", "-")

    assert Account.objects.get(name="work").api_key == API_KEY
    assert API_KEY not in output


def test_add_account_rejects_an_empty_key_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    with pytest.raises(CommandError, match="API key must not be empty"):
        run("add_account", "work", "--api-key", "-")


def test_add_account_rejects_a_duplicate_name() -> None:
    make_account(name="work")

    with pytest.raises(CommandError, match="Account with name 'work' already exists"):
        run("add_account", "work", "--api-key", API_KEY)

    assert Account.objects.count() == 1


def test_add_account_rejects_an_invalid_tier() -> None:
    with pytest.raises(CommandError, match="Tier must be one of 1, 5, 20"):
        run("add_account", "work", "--api-key", API_KEY, "--tier", "3")

    assert not Account.objects.exists()


def test_add_account_rejects_invalid_name_characters() -> None:
    with pytest.raises(CommandError, match="Name may only use letters, digits"):
        run("add_account", "bad/name", "--api-key", API_KEY)

    assert not Account.objects.exists()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("x", "API key must be 20 to 512 characters long; got 1"),
        ("k" * 1_500_000, "API key must be 20 to 512 characters long; got 1500000"),
        (API_KEY + "\r\nX-Evil: 1", "API key may only contain visible ASCII"),
        (API_KEY[:12] + "\x00" + API_KEY[12:], "API key may only contain visible ASCII"),
    ],
)
def test_add_account_refuses_what_cannot_be_an_api_key(key: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("add_account", "work", "--api-key", key)

    assert not Account.objects.exists()


def test_add_account_refuses_a_control_character_in_a_key_from_stdin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The line's own newline is trimmed; a carriage return inside the key is not a paste slip.
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{API_KEY[:20]}\r{API_KEY[20:]}\n"))

    with pytest.raises(CommandError, match="visible ASCII"):
        run("add_account", "work", "--api-key", "-")


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_add_account_refuses_a_blank_name(name: str) -> None:
    with pytest.raises(CommandError, match="Name must not be empty"):
        run("add_account", name, "--api-key", API_KEY)

    assert not Account.objects.exists()


def test_add_account_help_explains_reading_the_key_from_stdin() -> None:
    parser = add_account.Command().create_parser("manage.py", "add_account")

    help_text = " ".join(parser.format_help().split())
    assert "'--api-key -' to read the key from stdin" in help_text


# list_accounts


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


# pause_account / resume_account


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


# remove_account


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

    with pytest.raises(CommandError, match="Confirmation did not match; nothing removed"):
        run("remove_account", "work")

    assert Account.objects.filter(name="work").exists()


def test_remove_account_rejects_an_unknown_name_before_asking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("builtins.input", pytest.fail)

    with pytest.raises(CommandError, match="Account 'ghost' not found"):
        run("remove_account", "ghost")


# ensure_admin


def test_ensure_admin_creates_a_superuser_with_a_generated_password(
    superuser_env: pytest.MonkeyPatch,
) -> None:
    superuser_env.setattr("secrets.token_urlsafe", lambda nbytes: "generated-pass")

    output = run("ensure_admin")

    message = "Admin login created: user admin / password generated-pass — change it in the admin"
    assert output.splitlines()[1] == f"│ {message} │"
    user = get_user_model().objects.get(is_superuser=True)
    assert (user.username, user.email) == ("admin", "")
    assert user.check_password("generated-pass")


def test_ensure_admin_generates_a_fresh_password(superuser_env: pytest.MonkeyPatch) -> None:
    output = run("ensure_admin")

    password = re.search(r"password (\S+) —", output).group(1)
    assert len(password) >= 16
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_ensure_admin_uses_the_environment(superuser_env: pytest.MonkeyPatch) -> None:
    superuser_env.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    superuser_env.setenv("DJANGO_SUPERUSER_PASSWORD", "env-password-123")
    superuser_env.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")

    output = run("ensure_admin")

    assert output == "Admin login created: user root (password from environment)\n"
    user = get_user_model().objects.get(is_superuser=True)
    assert (user.username, user.email) == ("root", "root@example.com")
    assert user.check_password("env-password-123")


def test_ensure_admin_is_idempotent(superuser_env: pytest.MonkeyPatch) -> None:
    run("ensure_admin")

    second_output = run("ensure_admin")

    assert second_output == ""
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


def test_ensure_admin_leaves_an_existing_superuser_alone(
    superuser_env: pytest.MonkeyPatch,
) -> None:
    get_user_model().objects.create_superuser(username="owner", password="owner-password")

    output = run("ensure_admin")

    assert output == ""
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["owner"]


def test_ensure_admin_refuses_to_reuse_a_regular_username(
    superuser_env: pytest.MonkeyPatch,
) -> None:
    get_user_model().objects.create_user(username="admin", password="plain-user-password")

    with pytest.raises(CommandError, match="User 'admin' exists but is not a superuser"):
        run("ensure_admin")

    assert not get_user_model().objects.filter(is_superuser=True).exists()
