"""add_account in every mode: an API key, a long-lived token, the Claude login (pasted code)."""

import io
import re
import sys
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError

from accounts import crypto
from accounts.management.commands import add_account
from accounts.models import Account, HealthState
from tests.accounts.commands import (
    API_KEY,
    login,
    run,
    stored_api_key_column,
)
from tests.accounts.conftest import oauth_calls
from tests.conftest import FakeUpstream
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db


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


def test_add_account_api_key_on_an_existing_name_replaces_a_rejected_key() -> None:
    # Was "Account with name 'work' already exists": a key in "needs re-auth" could only
    # be replaced in the admin, or by removing the account and its history's link.
    make_account(name="work", tier=5, priority=2, reauth_reason="rejected (401)")

    output = run("add_account", "work", "--api-key", API_KEY)

    account = Account.objects.get(name="work")
    assert (
        output
        == f"Account 'work' re-authenticated (API key sk-ant-…{API_KEY[-4:]}, tier 5, priority 2)\n"
    )
    assert (account.kind, account.api_key) == ("api_key", API_KEY)
    assert account.health(datetime.now(UTC)).state == HealthState.OK
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
        # Saved as a key, a token was sent as one, refused, and the account benched.
        ("sk-ant-oat01-" + "t" * 40, r"This is an OAuth token \(sk-ant-oat01\.\.\.\)"),
        ("sk-ant-ort01-" + "t" * 40, "This is an OAuth token"),
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


def test_add_account_max_prints_the_url_and_reads_the_code_from_stdin(
    oauth_upstream: FakeUpstream,
) -> None:
    output = login("work", "--mode", "max", "--tier", "20", "--priority", "2")

    url = re.search(r"https://\S+", output).group(0)
    assert url.startswith("https://claude.com/cai/oauth/authorize?code=true&client_id=")
    assert "Code: " in output
    account = Account.objects.get(name="work")
    issued = oauth_calls(oauth_upstream)["issued"][0]
    assert (account.kind, account.tier, account.priority) == (Account.Kind.OAUTH, 20, 2)
    assert account.refresh_token == issued["refresh_token"]
    assert output.splitlines()[-1].startswith(
        "Account 'work' added (Claude Pro/Max OAuth, token valid until "
    )
    assert issued["access_token"] not in output and issued["refresh_token"] not in output


def test_add_account_console_stores_only_the_created_key(oauth_upstream: FakeUpstream) -> None:
    output = login("ci", "--mode", "console")

    account = Account.objects.get(name="ci")
    key = oauth_calls(oauth_upstream)["api_keys"][0]
    assert (account.kind, account.api_key, account.access_token) == ("console", key, None)
    assert output.splitlines()[-1].endswith(
        "Account 'ci' added (Console API key sk-ant-…0001, tier 1, priority 0)"
    )


def test_add_account_mode_on_an_existing_name_reauthenticates_it(
    oauth_upstream: FakeUpstream,
) -> None:
    make_oauth_account(name="work", tier=5, reauth_reason="refresh token rejected")

    output = login("work", "--mode", "max")

    account = Account.objects.get(name="work")
    assert "Account 'work' exists: its credentials will be replaced." in output
    assert "Account 'work' re-authenticated (" in output
    assert account.health(datetime.now(UTC)).state == HealthState.OK
    assert account.tier == 5


def test_add_account_without_a_code_changes_nothing(oauth_upstream: FakeUpstream) -> None:
    with pytest.raises(CommandError, match="No code given; nothing changed"):
        run("add_account", "work", "--mode", "max", stdin="")

    assert not Account.objects.exists()


def test_add_account_reports_a_rejected_code(oauth_upstream: FakeUpstream) -> None:
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=400, times=1)

    with pytest.raises(CommandError, match=r"HTTP 400"):
        run("add_account", "work", "--mode", "max", stdin="bad-code\n")


def test_add_account_needs_exactly_one_kind() -> None:
    with pytest.raises(CommandError, match="one of the arguments"):
        run("add_account", "work")


def test_add_account_oauth_token_from_stdin() -> None:
    output = run("add_account", "ci", "--oauth-token", "-", stdin="sk-ant-oat01-long-lived-0001\n")

    account = Account.objects.get(name="ci")
    assert (account.kind, account.access_token) == ("setup_token", "sk-ant-oat01-long-lived-0001")
    assert (
        output == "Account 'ci' added (long-lived OAuth token sk-ant-…0001, tier 1, priority 0)\n"
    )


def test_add_account_oauth_token_replaces_a_rejected_credential() -> None:
    make_account(name="ci", kind=Account.Kind.SETUP_TOKEN, reauth_reason="rejected (401)")

    output = run("add_account", "ci", "--oauth-token", "sk-ant-oat01-replacement-9999")

    account = Account.objects.get(name="ci")
    assert output.startswith("Account 'ci' re-authenticated (long-lived OAuth token")
    assert account.access_token == "sk-ant-oat01-replacement-9999"
    assert account.health(datetime.now(UTC)).state == HealthState.OK


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("short", "Token must be 20 to 4096 characters long; got 5"),
        ("sk-ant-oat01-long-lived\r\n-0001", "Token may only contain visible ASCII"),
        ("sk-ant-oat01-long-lived\x07-0001", "Token may only contain visible ASCII"),
        ("sk-ant-api03-" + "k" * 40, r"This is an API key \(sk-ant-api03\.\.\.\)"),
    ],
)
def test_add_account_oauth_token_refuses_what_cannot_be_a_token(token: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("add_account", "ci", "--oauth-token", token)

    assert not Account.objects.exists()


def test_add_account_mode_refuses_a_blank_name_before_the_login() -> None:
    with pytest.raises(CommandError, match="Name must not be empty"):
        run("add_account", "  ", "--mode", "max", stdin="")


def test_add_account_help_explains_the_browserless_login() -> None:
    from accounts.management.commands import add_account

    parser = add_account.Command().create_parser("manage.py", "add_account")

    help_text = " ".join(parser.format_help().split())
    assert "prints a URL to open in any browser (on any machine)" in help_text
    assert "--oauth-token" in help_text
