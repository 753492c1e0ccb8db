"""POST /api/oauth/init and /api/oauth/callback (docs/api.md) through the real URLconf."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts import onboarding
from accounts.models import Account, OAuthSession
from tests.accounts.conftest import oauth_calls
from tests.conftest import FakeUpstream
from tests.factories import make_oauth_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def post(client: Client, name: str, body: dict) -> tuple[int, dict]:
    response = client.post(
        reverse(f"api:{name}"), json.dumps(body), content_type="application/json"
    )
    return response.status_code, response.json()


def init(client: Client, **body: object) -> dict:
    status, reply = post(client, "oauth_init", {"name": "work", **body})
    assert status == 200, reply
    return reply


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def test_init_returns_the_url_and_session(api: Client) -> None:
    reply = init(api, mode="max", tier=5)

    session = OAuthSession.objects.get()
    assert reply == {
        "success": True,
        "authUrl": reply["authUrl"],
        "sessionId": str(session.pk),
        "step": "authorize",
        "reauth": False,
    }
    assert reply["authUrl"].startswith("https://claude.com/cai/oauth/authorize?")
    assert (session.account_name, session.mode, session.tier) == ("work", "max", 5)


def test_callback_adds_a_max_account(api: Client, oauth_upstream: FakeUpstream) -> None:
    started = init(api, tier=20)

    status, reply = post(
        api,
        "oauth_callback",
        {"sessionId": started["sessionId"], "code": f"c1#{state_of(started['authUrl'])}"},
    )

    assert (status, reply) == (
        200,
        {
            "success": True,
            "message": "Account 'work' added successfully!",
            "mode": "Claude Max",
            "tier": 20,
        },
    )
    account = Account.objects.get(name="work")
    assert account.refresh_token == oauth_calls(oauth_upstream)["issued"][0]["refresh_token"]
    assert not OAuthSession.objects.exists()


def test_callback_in_console_mode_stores_only_the_key(
    api: Client, oauth_upstream: FakeUpstream
) -> None:
    started = init(api, mode="console")

    status, reply = post(api, "oauth_callback", {"sessionId": started["sessionId"], "code": "c1"})

    account = Account.objects.get(name="work")
    assert (status, reply["mode"]) == (200, "Claude Console")
    assert account.api_key == oauth_calls(oauth_upstream)["api_keys"][0]
    assert (account.access_token, account.refresh_token) == (None, None)


def test_login_for_an_existing_name_replaces_its_credentials(
    api: Client, oauth_upstream: FakeUpstream
) -> None:
    make_oauth_account(name="work", tier=5, reauth_reason="refresh token rejected")
    started = init(api)
    assert started["reauth"] is True

    status, reply = post(api, "oauth_callback", {"sessionId": started["sessionId"], "code": "c1"})

    assert (status, reply["message"], reply["tier"]) == (
        200,
        "Account 'work' re-authenticated successfully!",
        5,
    )
    assert Account.objects.get(name="work").reauth_reason is None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "work", "mode": "team"}, "Mode must be 'max' or 'console'"),
        ({"name": "work", "tier": 3}, "Tier must be one of 1, 5, 20"),
    ],
)
def test_init_rejects_bad_input_with_400(api: Client, body: dict, error: str) -> None:
    assert post(api, "oauth_init", body) == (400, {"error": error})


@pytest.mark.parametrize("name", ["bad/name", "   ", "a\nb", "x" * 101])
def test_init_refuses_an_invalid_name_with_400(api: Client, name: str) -> None:
    status, reply = post(api, "oauth_init", {"name": name})

    assert status == 400
    assert reply["error"].startswith("Invalid name: ")
    assert not OAuthSession.objects.exists()


@pytest.mark.parametrize("session_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
def test_callback_for_an_unknown_session_is_400(api: Client, session_id: str) -> None:
    status, reply = post(api, "oauth_callback", {"sessionId": session_id, "code": "c1"})

    assert (status, reply) == (400, {"error": onboarding.EXPIRED_MESSAGE})


def test_callback_with_a_rejected_code_is_400(api: Client, oauth_upstream: FakeUpstream) -> None:
    oauth_upstream.add_rule(
        credential="*",
        path="/v1/oauth/token",
        status=400,
        body={"error": "invalid_grant", "error_description": "Invalid 'code' in request."},
        times=1,
    )
    started = init(api)

    status, reply = post(api, "oauth_callback", {"sessionId": started["sessionId"], "code": "c1"})

    assert (status, reply) == (400, {"error": "Invalid 'code' in request. (HTTP 400)"})


def test_callback_when_the_endpoint_is_down_is_502(
    api: Client, oauth_upstream: FakeUpstream
) -> None:
    oauth_upstream.add_rule(credential="*", path="/v1/oauth/token", status=503, times=1)
    started = init(api)

    status, reply = post(api, "oauth_callback", {"sessionId": started["sessionId"], "code": "c1"})

    assert status == 502
    assert "HTTP 503" in reply["error"]


def test_responses_never_carry_credentials(api: Client, oauth_upstream: FakeUpstream) -> None:
    started = init(api)
    verifier = OAuthSession.objects.get().verifier
    response = api.post(
        reverse("api:oauth_callback"),
        json.dumps({"sessionId": started["sessionId"], "code": "c1"}),
        content_type="application/json",
    )

    issued = oauth_calls(oauth_upstream)["issued"][0]
    assert verifier not in json.dumps(started)
    assert issued["access_token"] not in response.content.decode()
    assert issued["refresh_token"] not in response.content.decode()
