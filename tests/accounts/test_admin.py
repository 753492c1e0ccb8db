"""The accounts admin through the Django test client with CSRF checks on, as a browser uses it."""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from accounts.models import Account, HealthState, OAuthSession
from accounts.pool import pool
from analytics.live import events
from tests.accounts.conftest import oauth_calls, refreshes
from tests.conftest import FakeUpstream
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
API_KEY = "sk-ant-api03-admin-test-secret-key-7777"
CHANGELIST = "admin:accounts_account_changelist"


@pytest.fixture
def browser() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def submit(browser: Client, url: str, data: dict[str, Any]) -> Any:
    """GET the page (for the CSRF cookie), then POST `data` with the token, like a form does."""
    browser.get(url)
    token = browser.cookies["csrftoken"].value
    return browser.post(url, {**data, "csrfmiddlewaretoken": token})


def change_url(account: Account) -> str:
    return reverse("admin:accounts_account_change", args=[account.pk])


def run_action(browser: Client, action: str, *accounts: Account) -> Any:
    data = {"action": action, "_selected_action": [str(a.pk) for a in accounts]}
    return submit(browser, reverse(CHANGELIST), data)


def change_form(account: Account, **overrides: Any) -> dict[str, Any]:
    data = {"name": account.name, "tier": account.tier, "priority": account.priority, "_save": "1"}
    if account.paused:
        data["paused"] = "on"
    return {**data, **overrides}


# The list


def test_list_shows_health_with_reason_and_until_tokens_and_windows(
    browser: Client, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(NOW, tick=False)
    make_oauth_account(
        name="max",
        expires_at=NOW + timedelta(hours=8),
        five_hour_utilization=0.42,
        five_hour_reset=NOW + timedelta(hours=2),
        seven_day_utilization=0.07,
        session_start=NOW - timedelta(minutes=3),
        session_request_count=9,
        holds_session=True,
        request_count=31,
    )
    make_oauth_account(name="dead", reauth_reason="refresh token rejected: revoked")
    make_account(name="hot", cooldown_until=NOW + timedelta(seconds=40), cooldown_reason="HTTP 503")
    make_account(name="limited", rate_limited_until=NOW + timedelta(minutes=30))
    make_account(name="resting", paused=True)

    html = browser.get(reverse(CHANGELIST)).content.decode()

    for text in (
        "OAuth (Claude Pro/Max)",
        "valid (expires 2026-11-24 20:00 UTC)",
        "42%, resets 2026-11-24 14:00 UTC",
        "7%",
        "2026-11-24 11:57 UTC, 9 reqs",
        "Needs re-auth: refresh token rejected: revoked",
        "Cooling down until 2026-11-24 12:00 UTC: HTTP 503",
        "Rate limited until 2026-11-24 12:30 UTC",
        "Paused",
        "Add Claude account",
    ):
        assert text in html
    assert "sk-ant-" not in html


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (HealthState.OK, ["fine"]),
        (HealthState.NEEDS_REAUTH, ["dead"]),
        (HealthState.COOLING_DOWN, ["hot"]),
        (HealthState.RATE_LIMITED, ["limited"]),
        (HealthState.PAUSED, ["resting"]),
    ],
)
def test_list_filters_by_health(browser: Client, state: HealthState, expected: list[str]) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=5)
    make_account(name="fine")
    make_account(name="dead", reauth_reason="credential rejected")
    make_account(name="hot", cooldown_until=soon)
    make_account(name="limited", rate_limited_until=soon, cooldown_until=soon)
    make_account(name="resting", paused=True, reauth_reason="credential rejected")

    response = browser.get(reverse(CHANGELIST), {"health": state.value})

    assert [a.name for a in response.context["cl"].result_list] == expected


@pytest.mark.parametrize("value", ["bogus", "\x00", "ok "])
def test_an_unknown_health_filter_is_the_admins_notice_not_a_500(
    browser: Client, value: str
) -> None:
    make_account(name="fine")

    response = browser.get(reverse(CHANGELIST), {"health": value})

    # The admin's way with a filter it cannot apply: back to the list with ?e=1.
    assert response.status_code == 302 and response.url.endswith("?e=1")


def test_list_searches_by_name(browser: Client) -> None:
    make_account(name="work-max")
    make_account(name="home")

    response = browser.get(reverse(CHANGELIST), {"q": "work"})

    assert [a.name for a in response.context["cl"].result_list] == ["work-max"]


# The change page: secrets never shown, write-only replacements


def test_change_page_never_shows_the_credentials(browser: Client) -> None:
    oauth = make_oauth_account(name="max")
    key = make_account(name="key", api_key=API_KEY)

    oauth_html = browser.get(change_url(oauth)).content.decode()
    key_html = browser.get(change_url(key)).content.decode()

    for secret in (oauth.access_token, oauth.refresh_token):
        assert secret not in oauth_html
    assert "sk-ant-…cret" in oauth_html  # masked
    assert API_KEY not in key_html
    assert "sk-ant-…7777" in key_html
    assert 'type="password"' in key_html and 'name="new_secret"' in key_html


def test_a_new_api_key_replaces_the_old_and_clears_needs_reauth(browser: Client) -> None:
    account = make_account(name="key", reauth_reason="credential rejected (HTTP 401)")

    response = submit(browser, change_url(account), change_form(account, new_secret=API_KEY))

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.api_key == API_KEY
    assert account.health(datetime.now(UTC)).state == HealthState.OK
    assert API_KEY not in browser.get(change_url(account)).content.decode()


def test_new_oauth_tokens_are_used_from_the_next_request(browser: Client) -> None:
    account = make_oauth_account(name="max", reauth_reason="refresh token rejected")
    form = change_form(account, new_refresh_token="sk-ant-ort01-pasted-by-hand")

    submit(browser, change_url(account), form)

    account.refresh_from_db()
    assert account.refresh_token == "sk-ant-ort01-pasted-by-hand"
    assert (account.access_token, account.expires_at, account.reauth_reason) == (None, None, None)


def test_saving_without_a_secret_keeps_the_credential(browser: Client) -> None:
    account = make_account(name="key", api_key=API_KEY)

    submit(browser, change_url(account), change_form(account, priority=7))

    account.refresh_from_db()
    assert (account.api_key, account.priority) == (API_KEY, 7)


def test_saving_keeps_what_the_proxy_wrote_meanwhile(browser: Client) -> None:
    account = make_account(name="key", request_count=1)
    browser.get(change_url(account))
    Account.objects.filter(pk=account.pk).update(request_count=50, rate_limited_until=NOW)

    submit(browser, change_url(account), change_form(account, tier=20))

    account.refresh_from_db()
    assert (account.tier, account.request_count, account.rate_limited_until) == (20, 50, NOW)


def test_refresh_token_only_fits_oauth_accounts(browser: Client) -> None:
    account = make_account(name="key")

    response = submit(browser, change_url(account), change_form(account, new_refresh_token="x"))

    assert response.status_code == 200
    assert "Only OAuth accounts have a refresh token." in response.content.decode()


def test_add_page_adds_an_api_key_account(browser: Client) -> None:
    data = {"name": "new", "kind": "api_key", "tier": 5, "priority": 1, "new_secret": API_KEY}

    response = submit(browser, reverse("admin:accounts_account_add"), data)

    assert response.status_code == 302
    account = Account.objects.get(name="new")
    assert (account.kind, account.api_key, account.tier) == ("api_key", API_KEY, 5)


@pytest.mark.parametrize(
    ("kind", "secret", "message"),
    [
        ("api_key", "x", "API key must be 20 to 512 characters long; got 1."),
        ("api_key", "k" * 1_500_000, "API key must be 20 to 512 characters long"),
        ("api_key", API_KEY[:20] + "\r\n" + API_KEY[20:], "API key may only contain visible"),
        ("setup_token", "sk-ant-oat01-\x07-long-lived", "Token may only contain visible ASCII"),
        ("oauth", "short", "Token must be 20 to 4096 characters long; got 5."),
    ],
)
def test_add_page_refuses_what_cannot_be_the_credential(
    browser: Client, kind: str, secret: str, message: str
) -> None:
    data = {"name": "new", "kind": kind, "tier": 1, "priority": 0, "new_secret": secret}

    response = submit(browser, reverse("admin:accounts_account_add"), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Account.objects.exists()


@pytest.mark.parametrize("name", ["   ", "a\nb"])
def test_add_page_refuses_a_blank_or_multi_line_name(browser: Client, name: str) -> None:
    data = {"name": name, "kind": "api_key", "tier": 1, "priority": 0, "new_secret": API_KEY}

    response = submit(browser, reverse("admin:accounts_account_add"), data)

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not Account.objects.exists()


def test_change_page_refuses_a_control_character_in_a_new_refresh_token(browser: Client) -> None:
    account = make_oauth_account(name="max")
    bad = "sk-ant-ort01-pasted\nby-hand-0001"

    response = submit(browser, change_url(account), change_form(account, new_refresh_token=bad))

    assert response.status_code == 200
    assert "Token may only contain visible ASCII" in response.content.decode()
    assert Account.objects.get(pk=account.pk).refresh_token == account.refresh_token


def test_add_page_requires_a_credential(browser: Client) -> None:
    data = {"name": "new", "kind": "api_key", "tier": 1, "priority": 0}

    response = submit(browser, reverse("admin:accounts_account_add"), data)

    assert "Enter the API key or token of the new account." in response.content.decode()
    assert not Account.objects.exists()


# Actions


def test_pause_and_resume_actions(browser: Client) -> None:
    a, b = make_account(name="a"), make_account(name="b")

    run_action(browser, "pause", a, b)
    assert list(Account.objects.values_list("paused", flat=True)) == [True, True]

    run_action(browser, "resume", a)
    assert Account.objects.get(name="a").health(datetime.now(UTC)).state == HealthState.OK
    assert Account.objects.get(name="b").paused

    # It said "2 account(s) resumed" of one that was not paused.
    page = run_action(browser, "resume", a, b)
    told = [str(m) for m in page.wsgi_request._messages]
    assert told == ["1 account(s) resumed.", "1 account(s) already not paused: left as they were."]


def test_actions_tell_the_live_dashboard(browser: Client) -> None:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.ACCOUNTS_GROUP, channel)
    account = make_account(name="watched")  # its post_save event waits for a commit: none here

    run_action(browser, "pause", account)

    message = async_to_sync(asyncio.wait_for)(layer.receive(channel), timeout=5)
    assert message == {
        "type": "account.changed",
        "id": str(account.pk),
        "name": "watched",
        "deleted": False,
    }


def test_clear_rate_limit_action_ends_rate_limit_and_cooldown(browser: Client) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    account = make_account(
        name="a", rate_limited_until=later, cooldown_until=later, failure_streak=4
    )

    # And a bench the proxy has yet to write (the pool's next flush) does not come back.
    pool.update(Account.objects.get(pk=account.pk), rate_limited_until=later)

    run_action(browser, "clear_rate_limit", account)
    pool.flush_sync()

    account.refresh_from_db()
    assert account.health(datetime.now(UTC)).state == HealthState.OK
    assert account.failure_streak == 0


def test_refresh_token_now_action(browser: Client, oauth_upstream: FakeUpstream) -> None:
    account = make_oauth_account(name="max")
    key = make_account(name="key")

    response = run_action(browser, "refresh_token_now", account, key)

    account.refresh_from_db()
    assert refreshes(oauth_upstream) == 1
    assert account.access_token == oauth_calls(oauth_upstream)["issued"][0]["access_token"]
    shown = [str(m) for m in response.wsgi_request._messages]
    assert any(m.startswith("Account max: token refreshed, expires ") for m in shown)
    assert "Account key: no refresh token to use" in shown


def test_refresh_token_now_reports_a_rejection(
    browser: Client, oauth_upstream: FakeUpstream
) -> None:
    account = make_oauth_account(name="max")
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=401, times=1)

    response = run_action(browser, "refresh_token_now", account)

    shown = [str(m) for m in response.wsgi_request._messages]
    assert shown[0].startswith("Account max: refresh token rejected")
    assert Account.objects.get(name="max").reauth_reason


def test_refresh_token_now_asks_for_every_account_at_once(
    browser: Client, oauth_upstream: FakeUpstream
) -> None:
    # One after another, three slow token endpoints' answers (up to 15 s each) took the
    # page past its 30 s deadline: a 503 blaming the database, the outcomes lost.
    chosen = [make_oauth_account(name=f"max{n}") for n in range(3)]
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", delay_ms=1500, times=3)

    response = run_action(browser, "refresh_token_now", *chosen)

    asked = [e["time"] for e in oauth_upstream.log() if e["path"] == "/v1/oauth/token"]
    assert len(asked) == 3
    assert max(asked) - min(asked) < 1.5  # all asked before the first answer came
    shown = [str(m) for m in response.wsgi_request._messages]
    assert sorted(m.split(":")[0] for m in shown) == [
        "Account max0",
        "Account max1",
        "Account max2",
    ]
    assert all("token refreshed" in m for m in shown)


# Add Claude account: two steps


def test_add_claude_account_in_two_steps(browser: Client, oauth_upstream: FakeUpstream) -> None:
    changelist = browser.get(reverse(CHANGELIST)).content.decode()
    assert reverse("admin:accounts_account_add_claude") in changelist

    first = submit(
        browser,
        reverse("admin:accounts_account_add_claude"),
        {"name": "work", "mode": "max", "tier": "20", "priority": ""},
    )
    step_two = first["Location"]
    page = browser.get(step_two).content.decode()
    url = re.search(r'id="auth-url">([^<]+)<', page).group(1).replace("&amp;", "&")
    state = re.search(r"state=([^&]+)", url).group(1)
    second = submit(browser, step_two, {"code": f"code-1#{state}"})

    account = Account.objects.get(name="work")
    assert REPLACES not in page
    assert url.startswith("https://claude.com/cai/oauth/authorize?code=true&")
    assert second["Location"] == change_url(account)
    assert (account.kind, account.tier) == (Account.Kind.OAUTH, 20)
    assert account.refresh_token == oauth_calls(oauth_upstream)["issued"][0]["refresh_token"]
    assert not OAuthSession.objects.exists()


REPLACES = "An account with this name exists: finishing will replace its credentials."


def test_step_two_warns_that_an_existing_name_is_logged_in_again(browser: Client) -> None:
    # The dashboard says so (the init answer's `reauth`); the admin's step 2 did not.
    make_oauth_account(name="work")
    first = submit(
        browser, reverse("admin:accounts_account_add_claude"), {"name": "work", "mode": "max"}
    )

    page = browser.get(first["Location"]).content.decode()

    assert REPLACES in page


def test_step_two_of_a_new_names_login_never_says_it_replaces(browser: Client) -> None:
    first = submit(
        browser, reverse("admin:accounts_account_add_claude"), {"name": "fresh", "mode": "max"}
    )
    make_oauth_account(name="fresh")  # taken meanwhile: finishing is refused, nothing replaced

    page = browser.get(first["Location"]).content.decode()

    assert REPLACES not in page


def test_add_claude_account_console_mode(browser: Client, oauth_upstream: FakeUpstream) -> None:
    first = submit(
        browser, reverse("admin:accounts_account_add_claude"), {"name": "ci", "mode": "console"}
    )
    submit(browser, first["Location"], {"code": "code-1"})

    account = Account.objects.get(name="ci")
    assert account.api_key == oauth_calls(oauth_upstream)["api_keys"][0]
    assert account.access_token is None


def test_add_claude_account_shows_a_rejected_code(
    browser: Client, oauth_upstream: FakeUpstream
) -> None:
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=400, times=1)
    first = submit(
        browser, reverse("admin:accounts_account_add_claude"), {"name": "w", "mode": "max"}
    )

    response = submit(browser, first["Location"], {"code": "wrong"})

    assert response.status_code == 200
    assert "HTTP 400" in response.content.decode()
    assert not Account.objects.exists()


def test_add_claude_account_refuses_a_bad_name(browser: Client) -> None:
    response = submit(
        browser, reverse("admin:accounts_account_add_claude"), {"name": "no/slash", "mode": "max"}
    )

    assert response.status_code == 200
    assert "Name may only use letters, digits" in response.content.decode()


def test_expired_login_goes_back_to_step_one(
    browser: Client, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(NOW, tick=False)
    first = submit(
        browser, reverse("admin:accounts_account_add_claude"), {"name": "w", "mode": "max"}
    )
    time_machine.move_to(NOW + timedelta(minutes=11), tick=False)

    response = browser.get(first["Location"])

    assert response["Location"] == reverse("admin:accounts_account_add_claude")


def test_posting_without_the_csrf_token_is_refused(browser: Client) -> None:
    response = browser.post(reverse("admin:accounts_account_add_claude"), {"name": "w"})

    assert response.status_code == 403
    assert not OAuthSession.objects.exists()


def test_the_login_pages_need_a_staff_login() -> None:
    response = Client().get(reverse("admin:accounts_account_add_claude"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "changelist", ["/admin/accounts/account/", "/admin/auth/user/", "/admin/access/apitoken/"]
)
def test_an_action_on_items_that_are_not_ids_is_a_400_not_a_500(
    browser: Client, changelist: str
) -> None:
    # Only a crafted form sends one; it was a 500 with Django's traceback in the log.
    account = make_account(name="work")
    data = {"action": "delete_selected", "_selected_action": ["not-an-id", str(account.pk)]}

    answer = submit(browser, changelist, data)

    assert answer.status_code == 400
    assert Account.objects.filter(pk=account.pk).exists()
