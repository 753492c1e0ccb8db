"""Usage windows and the forecast where users see and ask for them: API, admin, command, UI."""

import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import usage_check
from accounts.models import Account
from analytics.reporting import dashboard
from lib import h1
from tests.conftest import FakeUpstream, account_state
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db

USAGE = "/api/oauth/usage"


def burning(name: str = "work", **fields: Any) -> Account:
    """An account polled 20 minutes ago at 50% and now at 60%: full in 80 minutes."""
    now = timezone.now()
    readings = [[(now - timedelta(minutes=20)).timestamp(), 0.5], [now.timestamp(), 0.6]]
    return make_oauth_account(
        name=name,
        five_hour_utilization=0.6,
        five_hour_reset=now + timedelta(hours=3),
        five_hour_samples=readings,
        model_windows={"opus": {"utilization": 0.9, "resets_at": "2026-11-28T09:00:00+00:00"}},
        **fields,
    )


def post(client: Client, url: str) -> tuple[int, dict]:
    response = client.post(url, "{}", content_type="application/json")
    return response.status_code, response.json()


# API


def test_accounts_list_has_the_forecast_and_model_windows(api_client: Client) -> None:
    burning()
    make_account(name="key")

    listed = {a["name"]: a for a in api_client.get("/api/accounts").json()}

    work = listed["work"]
    full = datetime.fromisoformat(work["fiveHourFullAt"])
    assert timedelta(minutes=79) < full - timezone.now() <= timedelta(minutes=80)
    assert work["modelWindows"] == [
        {"family": "opus", "utilization": 0.9, "resetsAt": "2026-11-28T09:00:00+00:00"}
    ]
    assert work["fiveHourReset"] is not None
    key = listed["key"]
    assert (key["fiveHourFullAt"], key["modelWindows"], key["usageCheckedAt"]) == (None, [], None)


def test_check_usage_now_through_the_api(api_client: Client, oauth_upstream: FakeUpstream) -> None:
    oauth_upstream.configure(usage_percent={"five_hour": 33, "seven_day": 8, "Sonnet": 61})
    account = make_oauth_account(name="work")

    status, body = post(api_client, f"/api/accounts/{account.pk}/usage")

    assert status == 200
    assert body["account"]["fiveHourUtilization"] == pytest.approx(0.33)
    assert body["account"]["sevenDayUtilization"] == pytest.approx(0.08)
    assert [w["family"] for w in body["account"]["modelWindows"]] == ["sonnet"]
    assert body["account"]["usageCheckedAt"] is not None
    assert Account.objects.get(pk=account.pk).five_hour_utilization == pytest.approx(0.33)


def test_api_check_answers_502_when_the_endpoint_fails(
    api_client: Client, oauth_upstream: FakeUpstream
) -> None:
    oauth_upstream.add_rule(credential="*", path=USAGE, status=401)
    account = make_oauth_account(name="work")

    status, body = post(api_client, "/api/accounts/work/usage")

    assert status == 502
    assert body == {"error": "Usage check failed: usage endpoint answered HTTP 401"}
    assert Account.objects.get(pk=account.pk).reauth_reason is None


def test_api_check_answers_503_when_the_proxy_is_out_of_descriptors(
    api_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_socket(*args: Any, **kwargs: Any) -> Any:
        raise h1.OutOfResources("EMFILE: Too many open files")

    monkeypatch.setattr(usage_check.h1, "fetch", no_socket)
    account = make_oauth_account(name="work")
    before = account_state(Account.objects.get(pk=account.pk))

    response = api_client.post("/api/accounts/work/usage", "{}", content_type="application/json")

    assert (response.status_code, response["Retry-After"]) == (503, "2")
    assert "out of local resources (EMFILE" in response.json()["error"]
    assert account_state(Account.objects.get(pk=account.pk)) == before


def test_api_check_refuses_an_api_key_account(api_client: Client) -> None:
    make_account(name="key")

    assert post(api_client, "/api/accounts/key/usage") == (
        400,
        {"error": "Only Claude Pro/Max OAuth accounts have a usage endpoint"},
    )


# Admin


@pytest.fixture
def browser() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def run_action(browser: Client, action: str, *accounts: Account) -> list[str]:
    url = reverse("admin:accounts_account_changelist")
    browser.get(url)
    data = {
        "action": action,
        "_selected_action": [str(a.pk) for a in accounts],
        "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
    }
    return [str(m) for m in browser.post(url, data).wsgi_request._messages]


def test_check_usage_now_admin_action(browser: Client, oauth_upstream: FakeUpstream) -> None:
    oauth_upstream.configure(usage_percent={"five_hour": 42})
    account = make_oauth_account(name="max")
    key = make_account(name="key")

    shown = run_action(browser, "check_usage_now", account, key)

    assert Account.objects.get(pk=account.pk).five_hour_utilization == pytest.approx(0.42)
    assert any(m.startswith("Account max: 5-hour window 42%, resets ") for m in shown)
    assert "Account key: no usage endpoint (not a Claude Pro/Max login)" in shown


def test_admin_shows_the_forecast_and_the_model_windows(browser: Client) -> None:
    account = burning()

    listing = browser.get(reverse("admin:accounts_account_changelist")).content.decode()
    page = browser.get(reverse("admin:accounts_account_change", args=[account.pk])).content.decode()

    assert "at the current pace" in listing
    assert "full at" in page
    assert "opus 90%, resets 2026-11-28" in page


# Command


def test_check_usage_command_reports_the_windows(oauth_upstream: FakeUpstream) -> None:
    oauth_upstream.configure(usage_shape="flat", usage_percent={"five_hour": 42, "Opus": 88})
    make_oauth_account(name="max")
    out = io.StringIO()

    call_command("check_usage", "max", stdout=out)

    assert out.getvalue().startswith("Account 'max': 5-hour 42% (resets ")
    assert "opus 88% (resets " in out.getvalue()


def test_check_usage_command_fails_for_a_refused_check(oauth_upstream: FakeUpstream) -> None:
    oauth_upstream.add_rule(credential="*", path=USAGE, status=503)
    make_oauth_account(name="max")
    err = io.StringIO()

    with pytest.raises(CommandError, match="1 of 1 usage checks failed"):
        call_command("check_usage", stdout=io.StringIO(), stderr=err)

    assert "Account 'max': usage endpoint answered HTTP 503" in err.getvalue()


def test_check_usage_command_refuses_an_api_key_account() -> None:
    make_account(name="key")

    with pytest.raises(CommandError, match="has no usage endpoint"):
        call_command("check_usage", "key")


# Dashboard


def test_dashboard_cards_show_model_windows_and_the_forecast(staff_client: Client) -> None:
    burning()

    [card] = dashboard.account_cards(now=timezone.now())
    cards = staff_client.get(reverse("dashboard:account_cards")).content.decode()
    pool = staff_client.get(reverse("dashboard:account_cards") + "?view=pool").content.decode()

    assert [w.label for w in card.windows] == ["5-hour", "7-day", "Opus weekly"]
    assert card.windows[2].percent == 90
    assert card.five_hour_full_at is not None
    for html in (cards, pool):
        assert "Opus weekly" in html
        assert "5h window full at" in html
    assert 'data-action="usage"' in cards


def test_account_json_reads_odd_model_windows_without_failing(api_client: Client) -> None:
    make_oauth_account(name="odd", model_windows={"opus": "full", "sonnet": {"utilization": "x"}})

    [odd] = api_client.get("/api/accounts").json()

    assert odd["modelWindows"] == []
    assert json.dumps(odd)
