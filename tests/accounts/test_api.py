"""/api/accounts through the real URLconf: docs/api.md shapes, 400s and 404s."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account
from accounts.pool import AccountPool, pool
from tests.factories import make_account

pytestmark = pytest.mark.django_db

API_KEY = "sk-ant-api03-api-test-key-0123456789"
ACCESS = "sk-ant-oat01-api-test-access-0123456789"
REFRESH = "sk-ant-ort01-api-test-refresh-0123456789"


def post(client: Client, url: str, body: dict | None = None) -> tuple[int, dict]:
    response = client.post(url, json.dumps(body or {}), content_type="application/json")
    return response.status_code, response.json()


def delete(client: Client, url: str, body: dict) -> tuple[int, dict]:
    response = client.delete(url, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_list_has_spec_fields_ordered_by_request_count(api_client: Client) -> None:
    now = timezone.now()
    make_account(name="quiet", request_count=1)
    make_account(
        name="busy",
        request_count=9,
        total_requests=20,
        tier=5,
        last_used=now,
        rate_limited_until=now + timedelta(minutes=30),
        session_start=now - timedelta(minutes=5),
        session_request_count=3,
        holds_session=True,
    )
    busy, quiet = api_client.get("/api/accounts").json()
    assert (busy["name"], quiet["name"]) == ("busy", "quiet")
    assert {
        "id", "name", "provider", "requestCount", "totalRequests", "lastUsed", "created", "tier",
        "paused", "tokenStatus", "tokenExpiresAt", "rateLimitStatus", "rateLimitReset",
        "rateLimitRemaining", "sessionInfo",
    } <= set(busy)  # fmt: skip
    assert (busy["requestCount"], busy["totalRequests"], busy["tier"]) == (9, 20, 5)
    assert busy["rateLimitStatus"] == "Rate limited (30m)"
    assert busy["sessionInfo"] == "Active: 3 reqs"
    assert busy["tokenStatus"] == "valid"  # API keys do not expire
    assert quiet["rateLimitStatus"] == "OK" and quiet["sessionInfo"] == "-"
    assert quiet["lastUsed"] is None
    assert busy["health"]["state"] == "rate_limited"
    assert busy["health"]["until"] == (now + timedelta(minutes=30)).isoformat()
    assert quiet["health"] == {"state": "ok", "reason": "", "until": None}


def test_add_from_tokens_creates_an_oauth_account(api_client: Client) -> None:
    status, body = post(
        api_client,
        "/api/accounts",
        {"name": " max-1 ", "accessToken": ACCESS, "refreshToken": REFRESH,
         "tier": 20},
    )  # fmt: skip
    assert status == 200
    account = Account.objects.get(name="max-1")
    assert body == {
        "success": True,
        "message": "Account max-1 added successfully",
        "tier": 20,
        "accountId": str(account.pk),
    }
    assert account.kind == "oauth" and account.refresh_token == REFRESH
    assert api_client.get("/api/accounts").json()[0]["tokenStatus"] == "expired"


def test_an_expiry_of_zero_is_the_epoch_not_none(api_client: Client) -> None:
    token = {"accessToken": ACCESS, "refreshToken": REFRESH, "expiresAt": 0}
    status, _ = post(api_client, "/api/accounts", {"name": "max-1", **token})

    assert status == 200
    assert Account.objects.get(name="max-1").expires_at == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "accessToken": ACCESS},
        {"name": "", "accessToken": ACCESS, "refreshToken": REFRESH},
        {"name": "bad/name", "accessToken": ACCESS, "refreshToken": REFRESH},
        {"name": "x", "accessToken": ACCESS, "refreshToken": REFRESH, "tier": 3},
        {"name": "x", "accessToken": ACCESS, "refreshToken": REFRESH, "provider": "openai"},
        {"name": "taken", "accessToken": ACCESS, "refreshToken": REFRESH},
    ],
)
def test_add_rejects_bad_bodies_with_400(api_client: Client, body: dict) -> None:
    make_account(name="taken")
    status, reply = post(api_client, "/api/accounts", body)
    assert status == 400
    assert reply["error"]


def test_delete_by_name_or_id_needs_the_confirmation(api_client: Client) -> None:
    first, second = make_account(name="one two"), make_account(name="three")
    status, body = delete(api_client, "/api/accounts/one%20two", {"confirm": "nope"})
    assert (status, body) == (
        400,
        {
            "error": "Confirmation string does not match account name",
            "details": {"confirmationRequired": True},
        },
    )
    assert delete(api_client, "/api/accounts/one%20two", {"confirm": "one two"}) == (
        200,
        {"success": True, "message": "Account 'one two' removed successfully"},
    )
    assert delete(api_client, f"/api/accounts/{second.pk}", {"confirm": "three"})[0] == 200
    assert not Account.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert delete(api_client, "/api/accounts/ghost", {"confirm": "ghost"}) == (
        404,
        {"error": "Account 'ghost' not found"},
    )
    assert delete(api_client, "/api/accounts/three", {})[0] == 400


def test_a_clear_is_not_undone_by_another_workers_limit_waiting_to_be_written(
    api_client: Client,
) -> None:
    # With WORKERS=2 a clear dropped the pending writes of the worker that took it only:
    # the other's, of a 429 just before, benched the account again at its flush.
    account = make_account(name="work")
    later = timezone.now() + timedelta(minutes=30)
    other_worker = AccountPool()
    copy = Account.objects.get(pk=account.pk)
    other_worker.update(copy, rate_limited_until=later, rate_limit_status="rejected")
    other_worker.cap_family(copy, "opus", {"until": later.isoformat(), "claim": "seven_day_opus"})
    other_worker.update(copy, five_hour_utilization=0.5)  # no limit: written whatever happens

    assert post(api_client, f"/api/accounts/{account.pk}/clear-rate-limit")[0] == 200
    other_worker.flush_sync()

    account.refresh_from_db()
    assert (account.rate_limited_until, account.rate_limit_status, account.model_limits) == (
        None,
        None,
        {},
    )
    assert account.five_hour_utilization == 0.5
    # A limit noted after the clear is a new one.
    other_worker.update(copy, rate_limited_until=later)
    other_worker.cap_family(copy, "opus", {"until": later.isoformat(), "claim": "seven_day_opus"})
    other_worker.flush_sync()
    account.refresh_from_db()
    assert account.rate_limited_until == later and set(account.model_limits) == {"opus"}


def test_pause_and_resume(api_client: Client) -> None:
    account = make_account(name="work")
    url = f"/api/accounts/{account.pk}"
    assert post(api_client, f"{url}/pause") == (
        200,
        {"success": True, "message": "Account 'work' paused successfully"},
    )
    assert post(api_client, f"{url}/pause") == (400, {"error": "Account 'work' is already paused"})
    assert post(api_client, f"{url}/resume")[1]["message"] == "Account 'work' resumed successfully"
    assert post(api_client, f"{url}/resume")[0] == 400
    assert post(api_client, "/api/accounts/00000000-0000-0000-0000-000000000000/pause")[0] == 404


def test_a_clear_is_not_undone_by_a_limit_still_waiting_to_be_written(api_client: Client) -> None:
    # The pool writes what the proxy saw every flush interval: a 429's bench, cleared
    # through the API before that flush, came back with it.
    account = make_account(name="work")
    later = timezone.now() + timedelta(minutes=30)
    copy = Account.objects.get(pk=account.pk)
    pool.update(copy, rate_limited_until=later, rate_limit_status="rejected")
    pool.cap_family(copy, "opus", {"until": later.isoformat(), "claim": "seven_day_opus"})

    assert post(api_client, f"/api/accounts/{account.pk}/clear-rate-limit")[0] == 200
    pool.flush_sync()

    account.refresh_from_db()
    assert (account.rate_limited_until, account.rate_limit_status, account.model_limits) == (
        None,
        None,
        {},
    )


def test_clear_rate_limit_lifts_limits_and_cooldown(api_client: Client) -> None:
    later = timezone.now() + timedelta(minutes=30)
    account = make_account(
        name="work",
        rate_limited_until=later,
        cooldown_until=later,
        cooldown_reason="529 overloaded",
        failure_streak=3,
        model_limits={"opus": {"until": later.isoformat(), "claim": "seven_day_opus"}},
        rate_limit_status="rejected",
        rate_limit_reset=later,
    )
    assert api_client.get("/api/accounts").json()[0]["rateLimitStatus"] == "rejected (30m)"

    assert post(api_client, f"/api/accounts/{account.pk}/clear-rate-limit") == (
        200,
        {"success": True, "message": "Account 'work' rate limit cleared"},
    )

    account.refresh_from_db()
    assert account.rate_limited_until is None and account.cooldown_until is None
    assert (account.model_limits, account.failure_streak) == ({}, 0)
    # The last answer's "rejected" went with the limits: it read as if the clear had failed.
    assert api_client.get("/api/accounts").json()[0]["rateLimitStatus"] == "OK"
    assert post(api_client, "/api/accounts/ghost/clear-rate-limit")[0] == 404


@pytest.mark.parametrize(
    ("status", "reset_in", "shown"),
    [
        ("rejected", timedelta(minutes=-1), "OK"),  # ccflare: "rejected" until the next answer
        ("allowed_warning", timedelta(minutes=-1), "OK"),
        ("allowed_warning", timedelta(minutes=10), "allowed_warning (10m)"),
        ("allowed", None, "allowed"),
    ],
)
def test_a_status_whose_reset_has_passed_is_no_longer_shown(
    api_client: Client, status: str, reset_in: timedelta | None, shown: str
) -> None:
    reset = timezone.now() + reset_in if reset_in is not None else None
    make_account(name="past", rate_limit_status=status, rate_limit_reset=reset)

    assert api_client.get("/api/accounts").json()[0]["rateLimitStatus"] == shown


def test_a_status_of_one_model_familys_limit_says_the_account_serves_the_others(
    api_client: Client,
) -> None:
    later = timezone.now() + timedelta(minutes=30)
    make_account(
        name="capped",
        model_limits={"opus": {"until": later.isoformat(), "claim": "seven_day_opus"}},
        rate_limit_status="rejected",
        rate_limit_claim="seven_day_opus",
        rate_limit_reset=later,
    )

    shown = api_client.get("/api/accounts").json()[0]["rateLimitStatus"]

    assert shown == "rejected, opus only (30m)"  # read "rejected (30m)", as if benched


def test_tier_priority_and_rename(api_client: Client) -> None:
    account = make_account(name="work")
    make_account(name="other")
    url = f"/api/accounts/{account.pk}"
    assert post(api_client, f"{url}/tier", {"tier": 5}) == (200, {"success": True, "tier": 5})
    assert post(api_client, f"{url}/tier", {"tier": 7})[0] == 400
    assert post(api_client, f"{url}/priority", {"priority": -2}) == (
        200,
        {"success": True, "priority": -2},
    )
    assert post(api_client, f"{url}/priority", {"priority": "high"})[0] == 400
    assert post(api_client, f"{url}/rename", {"name": "other"}) == (
        400,
        {"error": "Account name 'other' is already taken"},
    )
    assert post(api_client, f"{url}/rename", {"name": "renamed"}) == (
        200,
        {
            "success": True,
            "message": "Account renamed from 'work' to 'renamed'",
            "newName": "renamed",
        },
    )
    assert post(api_client, f"{url}/rename", {"name": "no/slash"})[0] == 400
    assert post(api_client, "/api/accounts/ghost/tier", {"tier": 5})[0] == 404
    account.refresh_from_db()
    assert (account.name, account.tier, account.priority) == ("renamed", 5, -2)


def test_add_with_an_api_key_creates_an_api_key_account(api_client: Client) -> None:
    status, body = post(
        api_client, "/api/accounts", {"name": "console-1", "apiKey": API_KEY, "tier": 5}
    )
    assert status == 200
    account = Account.objects.get(name="console-1")
    assert body["accountId"] == str(account.pk)
    assert (account.kind, account.api_key, account.tier) == ("api_key", API_KEY, 5)


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"accessToken": ACCESS},
        {"apiKey": API_KEY, "accessToken": ACCESS, "refreshToken": REFRESH},
    ],
)
def test_add_needs_exactly_one_kind_of_credential(api_client: Client, credentials: dict) -> None:
    status, body = post(api_client, "/api/accounts", {"name": "x", **credentials})
    assert status == 400
    assert "apiKey" in body["error"]
    assert not Account.objects.filter(name="x").exists()


def test_list_shows_per_model_limits_and_the_session_holder(api_client: Client) -> None:
    now = timezone.now()
    until = now + timedelta(hours=2)
    make_account(
        name="capped",
        model_limits={
            "opus": {"until": until.isoformat(), "claim": "seven_day_opus"},
            "sonnet": {"until": (now - timedelta(seconds=1)).isoformat(), "claim": "x"},
        },
        holds_session=True,
        session_start=now,
    )

    (capped,) = api_client.get("/api/accounts").json()

    assert capped["modelLimits"] == [
        {"family": "opus", "claim": "seven_day_opus", "until": until.isoformat()}
    ]  # the expired Sonnet cap is gone
    assert capped["holdsSession"] is True
    assert capped["health"]["state"] == "ok"  # every other model still served


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"apiKey": "x"}, "Invalid apiKey: API key must be 20 to 512 characters long; got 1."),
        ({"apiKey": "k" * 1_500_000}, "Invalid apiKey: API key must be 20 to 512 characters"),
        ({"apiKey": API_KEY + "\r\nX-Evil: 1"}, "Invalid apiKey: API key may only contain"),
        ({"accessToken": ACCESS + "\n", "refreshToken": "\x00" + REFRESH},
         "Invalid refreshToken: Refresh token may only contain visible ASCII"),
        ({"accessToken": ACCESS[:20] + "\x1b" + ACCESS[20:], "refreshToken": REFRESH},
         "Invalid accessToken: Access token may only contain visible ASCII"),
        ({"name": "   ", "apiKey": API_KEY}, "Invalid name: Name must not be empty."),
        ({"name": "a\nb", "apiKey": API_KEY}, "Invalid name: Name may only use letters"),
    ],
)  # fmt: skip
def test_add_refuses_what_cannot_be_a_name_or_credential(
    api_client: Client, body: dict, message: str
) -> None:
    status, reply = post(api_client, "/api/accounts", {"name": "x", **body})

    assert status == 400
    assert reply["error"].startswith(message)
    assert reply["details"][0]["msg"] in reply["error"]
    assert not Account.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "a\r\nb"])
def test_rename_refuses_a_blank_or_multi_line_name(api_client: Client, name: str) -> None:
    account = make_account(name="work")

    status, reply = post(api_client, f"/api/accounts/{account.pk}/rename", {"name": name})

    assert status == 400
    assert reply["error"].startswith("Invalid name: ")
    assert Account.objects.get().name == "work"


def test_only_an_account_whose_session_is_live_holds_it(
    api_client: Client, settings: object
) -> None:
    # The stored flag stays set after the session runs out: two accounts showed as
    # holding it (and the TUI said so twice), where routing sees none or one.
    now = timezone.now()
    make_account(name="old", holds_session=True, session_start=now - timedelta(hours=6))
    make_account(name="new", holds_session=True, session_start=now - timedelta(minutes=1))

    listed = {a["name"]: a for a in api_client.get("/api/accounts").json()}

    assert (listed["old"]["holdsSession"], listed["old"]["sessionInfo"]) == (False, "-")
    assert listed["new"]["holdsSession"] is True


@pytest.mark.parametrize("name", ["no_account", "no_key", "No_Account"])
def test_the_reports_keywords_cannot_name_an_account(api_client: Client, name: str) -> None:
    # An account called no_account was counted with the requests of no account.
    account = make_account(name="work")

    added = post(api_client, "/api/accounts", {"name": name, "apiKey": API_KEY})
    renamed = post(api_client, f"/api/accounts/{account.pk}/rename", {"name": name})

    assert added[0] == renamed[0] == 400
    assert "reserved" in added[1]["error"] and "reserved" in renamed[1]["error"]


def test_a_tier_of_true_is_refused_not_taken_as_1(api_client: Client) -> None:
    account = make_account(name="work", tier=5)

    assert post(api_client, f"/api/accounts/{account.pk}/tier", {"tier": True})[0] == 400
    assert (
        post(api_client, "/api/accounts", {"name": "x", "apiKey": API_KEY, "tier": True})[0] == 400
    )
    assert post(api_client, "/api/oauth/init", {"name": "y", "tier": True})[0] == 400
    account.refresh_from_db()
    assert account.tier == 5
