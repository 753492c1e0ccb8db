"""The OAuth side of `add_account`, and set_tier, set_priority, rename_account, refresh_tokens,
list_accounts' health and token columns; run through call_command with stdin replaced.
"""

import io
import re
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command
from time_machine import TimeMachineFixture

from accounts.models import Account, HealthState
from tests.accounts.conftest import oauth_calls, refreshes
from tests.conftest import FakeUpstream
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def run(*args: str, stdin: str | None = None) -> str:
    """Run a command with `stdin` as its standard input; returns what it wrote to stdout."""
    stdout, stderr = io.StringIO(), io.StringIO()
    original = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=stdout, stderr=stderr)
    finally:
        sys.stdin = original
    return stdout.getvalue()


class PastesTheCode(io.StringIO):
    """stdin that answers the login prompt with the state of the URL printed before it."""

    def __init__(self, stdout: io.StringIO, *, code: str = "code-1") -> None:
        super().__init__()
        self.stdout, self.code = stdout, code

    def readline(self, size: int = -1) -> str:
        url = re.search(r"https://\S+", self.stdout.getvalue()).group(0)
        return f"{self.code}#{parse_qs(urlsplit(url).query)['state'][0]}\n"


def login(*args: str) -> str:
    stdout = io.StringIO()
    original, sys.stdin = sys.stdin, PastesTheCode(stdout)
    try:
        call_command("add_account", *args, stdout=stdout, stderr=io.StringIO())
    finally:
        sys.stdin = original
    return stdout.getvalue()


# add_account --mode


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


# add_account --oauth-token


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
    ],
)
def test_add_account_oauth_token_refuses_what_cannot_be_a_token(token: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("add_account", "ci", "--oauth-token", token)

    assert not Account.objects.exists()


def test_add_account_mode_refuses_a_blank_name_before_the_login() -> None:
    with pytest.raises(CommandError, match="Name must not be empty"):
        run("add_account", "  ", "--mode", "max", stdin="")


# set_tier, set_priority, rename_account


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


# refresh_tokens


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


# list_accounts


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


def test_add_account_help_explains_the_browserless_login() -> None:
    from accounts.management.commands import add_account

    parser = add_account.Command().create_parser("manage.py", "add_account")

    help_text = " ".join(parser.format_help().split())
    assert "prints a URL to open in any browser (on any machine)" in help_text
    assert "--oauth-token" in help_text
