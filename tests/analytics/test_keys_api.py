"""Budgets and model rules through the API, the command and the rules they share."""

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models.signals import post_init
from django.test import Client

from access import credentials, keyrules
from access.models import ClientKey, KeyBudget
from tests.factories import make_request

pytestmark = pytest.mark.django_db


def put(client: Client, url: str, body: dict) -> tuple[int, dict]:
    response = client.put(url, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_budgets_are_set_listed_with_their_use_and_removed(api_client: Client) -> None:
    alice, _ = credentials.create_client_key(name="alice")
    make_request(client_key=alice, input_tokens=70, output_tokens=30)
    make_request(client_key=alice, status_code=429, terminal_state="rejected")  # not counted

    status, key = put(api_client, "/api/keys/alice/budgets",
                      {"metric": "requests", "window": "1h", "limit": 3})  # fmt: skip
    assert status == 200
    put(api_client, "/api/keys/alice/budgets", {"metric": "tokens", "window": "1d", "limit": 500})
    put(api_client, "/api/keys/alice/budgets", {"metric": "requests", "window": "1h", "limit": 5})

    (listed,) = api_client.get("/api/keys").json()
    assert listed["name"] == "alice" and listed["display"].startswith("cck_")
    assert [(b["description"], b["used"]) for b in listed["budgets"]] == [
        ("5 requests per hour", 1.0), ("500 tokens per day", 100.0),
    ]  # fmt: skip
    gone = api_client.delete("/api/keys/alice/budgets/requests/1h")
    assert [b["metric"] for b in gone.json()["budgets"]] == ["tokens"]
    assert "secret" not in json.dumps(listed) and alice.secret_hash not in json.dumps(listed)


def test_a_cost_budgets_use_is_shown_to_the_stored_precision(api_client: Client) -> None:
    # 0.00225 showed as 0.0022 (rounded to four places).
    alice, _ = credentials.create_client_key(name="alice")
    make_request(client_key=alice, cost_usd=Decimal("0.00225"))
    put(api_client, "/api/keys/alice/budgets", {"metric": "cost", "window": "1d", "limit": 1})

    (listed,) = api_client.get("/api/keys").json()

    assert listed["budgets"][0]["used"] == 0.00225


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"metric": "bytes", "window": "1h", "limit": 1}, "Unknown budget metric 'bytes'"),
        ({"metric": "requests", "window": "2h", "limit": 1}, "Unknown budget window '2h'"),
        ({"metric": "requests", "window": "1h", "limit": 0}, "must be at least 0.0001"),
        # Stored to four places it would be a limit of 0.
        ({"metric": "cost", "window": "30d", "limit": 1e-320}, "must be at least 0.0001"),
        ({"metric": "cost", "window": "30d", "limit": 0.00004}, "must be at least 0.0001"),
        ({"metric": "cost", "window": "30d", "limit": -1e30}, "must be at least 0.0001"),
        ({"metric": "requests", "window": "1h", "limit": 1.5}, "whole number"),
        ({"metric": "cost", "window": "1h", "limit": "lots"}, "must be a number"),
        ({"metric": "requests", "window": "1h", "limit": True}, "Invalid"),
        ({"metric": "cost", "window": "1h", "limit": "nan"}, "must be at least 0.0001"),
        ({"metric": "pool_share", "window": "1d", "limit": 10}, "measured over 5h or 7d"),
        ({"metric": "pool_share", "window": "5h", "limit": 150}, "at most 100"),
    ],
)
def test_a_budget_that_makes_no_sense_is_a_400_naming_why(
    api_client: Client, body: dict, message: str
) -> None:
    credentials.create_client_key(name="alice")
    status, answer = put(api_client, "/api/keys/alice/budgets", body)
    assert status == 400 and message in answer["error"]
    assert not KeyBudget.objects.exists()


def test_unknown_keys_are_404s(api_client: Client) -> None:
    status, answer = put(api_client, "/api/keys/nobody/models", {"allowed": ["opus"]})
    assert (status, answer) == (404, {"error": "No active client key named 'nobody'"})
    assert api_client.delete("/api/keys/nobody/budgets/requests/1h").status_code == 404


def test_model_rules_are_normalised_and_checked(api_client: Client) -> None:
    credentials.create_client_key(name="ci")
    status, key = put(api_client, "/api/keys/ci/models", {"denied": [" Opus ", "opus"]})
    assert (status, key["deniedModels"], key["allowedModels"]) == (200, ["opus"], [])
    status, answer = put(api_client, "/api/keys/ci/models", {"allowed": ["claude opus!"]})
    assert status == 400 and "is not a model family" in answer["error"]
    both = {"allowed": ["opus", "haiku"], "denied": ["Opus"]}
    status, answer = put(api_client, "/api/keys/ci/models", both)
    assert (status, answer["error"]) == (400, "Allowed and denied at once: opus")


def test_the_command_sets_budgets_and_rules_and_lists_usage(
    capsys: pytest.CaptureFixture,
) -> None:
    alice, _ = credentials.create_client_key(name="alice")
    make_request(client_key=alice, input_tokens=10, output_tokens=5)
    call_command("client_keys", "budget", "alice", "pool_share", "5h", "25")
    call_command("client_keys", "budget", "alice", "cost", "30d", "12.5")
    call_command("client_keys", "models", "alice", "--deny", "opus,haiku")
    capsys.readouterr()

    call_command("client_keys")
    out = capsys.readouterr().out
    assert out.startswith("alice (cck_")
    assert "1 requests, 15 tokens" in out
    assert "budget: 25% of the pool's 5-hour window (used 0)" in out
    assert "budget: $12.5 per month (30 days) (used 0)" in out
    assert "may not use: haiku, opus" in out
    call_command("client_keys", "unbudget", "alice", "cost", "30d")
    call_command("client_keys", "list", "--json")
    (listed,) = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert listed["usage"]["tokens"] == 15 and len(listed["budgets"]) == 1
    with pytest.raises(CommandError, match="No active client key named 'bob'"):
        call_command("client_keys", "budget", "bob", "requests", "1h", "3")
    with pytest.raises(CommandError, match="whole number"):
        call_command("client_keys", "budget", "alice", "tokens", "1h", "0.5")


def test_budgets_of_a_revoked_key_are_not_loaded_for_the_proxy() -> None:
    from access.policy import load_policies

    alice, _ = credentials.create_client_key(name="alice")
    keyrules.set_budget(key=alice, metric="requests", window="1h", limit=3)
    (policy,) = load_policies().values()
    assert [b.describe() for b in policy.budgets] == ["3 requests per hour"]
    credentials.revoke_client_key(name="alice")
    assert load_policies() == {}


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("put", "/api/keys/alice/budgets", {"metric": "requests", "window": "1h", "limit": 3}),
        ("put", "/api/keys/alice/models", {"allowed": ["haiku"], "denied": []}),
        ("delete", "/api/keys/alice/budgets/tokens/1d", None),
    ],
)
def test_a_change_to_a_key_revoked_and_replaced_meanwhile_is_not_found(
    api_client: Client, method: str, url: str, body: dict | None
) -> None:
    alice, _ = credentials.create_client_key(name="alice")
    KeyBudget.objects.create(client_key=alice, metric="tokens", window="1d", limit=500)

    def replace_once(sender: type[ClientKey], instance: ClientKey, **kwargs: object) -> None:
        # Right after the API looked the key up: revoked, and a new one of its name made.
        post_init.disconnect(replace_once, sender=ClientKey)
        credentials.revoke_client_key(name="alice")
        credentials.create_client_key(name="alice")

    post_init.connect(replace_once, sender=ClientKey)
    try:
        if method == "put":
            response = api_client.put(url, json.dumps(body), content_type="application/json")
        else:
            response = api_client.delete(url)
    finally:
        post_init.disconnect(replace_once, sender=ClientKey)

    assert response.status_code == 404, response.content
    assert response.json() == {"error": "Client key 'alice' was revoked meanwhile"}
    (new,) = api_client.get("/api/keys").json()
    assert (new["budgets"], new["allowedModels"]) == ([], [])
