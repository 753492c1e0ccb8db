"""API tokens and client keys: created once, stored hashed, revocable, checked without queries."""

import hashlib
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from access import clientkeys, credentials, keyrules
from access.models import ApiToken, ClientKey

pytestmark = pytest.mark.django_db
BEARER = frozenset({"authorization"})


def test_api_token_is_shown_once_and_stored_hashed() -> None:
    token, secret = credentials.create_api_token(name="status-line")
    assert secret.startswith("cct_") and len(secret) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get(pk=token.pk))
    assert credentials.authenticate_token(secret) == token
    assert credentials.authenticate_token(secret + "x") is None


def test_revoked_token_stops_working_and_the_name_can_be_reused() -> None:
    _, secret = credentials.create_api_token(name="ci")
    credentials.revoke_api_token(name="ci")
    assert credentials.authenticate_token(secret) is None
    _, again = credentials.create_api_token(name="ci")
    assert credentials.authenticate_token(again) is not None


def test_duplicate_live_names_and_unknown_revocations_are_refused() -> None:
    credentials.create_client_key(name="laptop")
    with pytest.raises(credentials.AccessError, match="already exists"):
        credentials.create_client_key(name="laptop")
    with pytest.raises(credentials.AccessError, match="No active client key"):
        credentials.revoke_client_key(name="desktop")


def test_last_use_is_written_at_most_once_a_minute() -> None:
    token, secret = credentials.create_api_token(name="poller")
    credentials.authenticate_token(secret)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    credentials.authenticate_token(secret)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    credentials.authenticate_token(secret)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first - timedelta(seconds=1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")
def test_a_write_lock_held_elsewhere_does_not_hold_up_the_api_for_its_note() -> None:
    # The note of the token's use waited SQLite's whole busy timeout (5 s) for the lock,
    # on every API request while a long write ran elsewhere (a cleanup, a sqlite3 shell).
    token, secret = credentials.create_api_token(name="poller")
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        started = time.monotonic()
        assert credentials.authenticate_token(secret) == token
        assert time.monotonic() - started < 2
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert ApiToken.objects.get(pk=token.pk).last_used_at is None  # a later request notes it


def test_commands_print_the_secret_once_and_revoke(capsys: pytest.CaptureFixture) -> None:
    call_command("create_api_token", "scraper")
    secret = capsys.readouterr().out.strip()
    assert credentials.authenticate_token(secret) is not None
    call_command("create_client_key", "alice")
    key = capsys.readouterr().out.strip()
    assert key.startswith("cck_")
    call_command("revoke_client_key", "alice")
    assert "No live client key is left: /v1/ now refuses every request" in capsys.readouterr().out
    call_command("revoke_api_token", "scraper")
    assert ClientKey.objects.get(name="alice").revoked_at is not None
    assert credentials.authenticate_token(secret) is None
    with pytest.raises(CommandError, match="No active API token"):
        call_command("revoke_api_token", "scraper")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"x-api-key", b"cck_one")], clientkeys.Grant(1, frozenset({"x-api-key"}))),
        ([(b"authorization", b"Bearer cck_two")], clientkeys.Grant(2, BEARER)),
        ([(b"authorization", b"bearer cck_two")], clientkeys.Grant(2, BEARER)),
        ([(b"x-api-key", b"sk-ant-own"), (b"authorization", b"Bearer cck_one")],
         clientkeys.Grant(1, frozenset({"authorization"}))),
        # Both headers carry keys: neither may go upstream (with no accounts, the client's
        # own credentials do).
        ([(b"x-api-key", b"cck_one"), (b"authorization", b"Bearer cck_two")],
         clientkeys.Grant(1, frozenset({"x-api-key", "authorization"}))),
        ([(b"x-api-key", b"cck_wrong")], None),
        ([], None),
    ],
)  # fmt: skip
def test_match_finds_the_key_in_either_header(headers: list, expected: object) -> None:
    keys = {hashlib.sha256(b"cck_one").hexdigest(): 1, hashlib.sha256(b"cck_two").hexdigest(): 2}
    assert clientkeys.match(headers, keys) == expected


@pytest.mark.django_db(transaction=True)
async def test_cache_is_open_without_keys_and_closed_with_one() -> None:
    cache = clientkeys.ClientKeyCache()
    assert await cache.authorize([]) is clientkeys.OPEN
    _, secret = await _create_key("bob")
    cache.invalidate()
    assert await cache.authorize([]) is None
    grant = await cache.authorize([(b"x-api-key", secret.encode())])
    assert grant is not None and grant.strip == frozenset({"x-api-key"})


@pytest.mark.django_db(transaction=True)
async def test_revoking_the_last_key_closes_the_proxy_and_deleting_the_keys_opens_it() -> None:
    # With no live key left the proxy was open again: revoking a leaked last key let it,
    # and anyone else, back in.
    from asgiref.sync import sync_to_async

    cache = clientkeys.ClientKeyCache()
    _, secret = await _create_key("bob")
    await sync_to_async(credentials.revoke_client_key)(name="bob")
    cache.invalidate()

    assert await cache.authorize([(b"x-api-key", secret.encode())]) is None
    assert await cache.authorize([]) is None
    await ClientKey.objects.all().adelete()
    cache.invalidate()
    assert await cache.authorize([]) is clientkeys.OPEN


@pytest.mark.django_db(transaction=True)
async def test_keys_that_could_not_be_read_yet_let_no_request_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A worker started while the database is away has no key set to keep: an empty one
    # read as "no keys configured" and let every request in, a key or none.
    def away() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(clientkeys, "_load", away)
    cache = clientkeys.ClientKeyCache()

    assert await cache.authorize([]) is None
    assert await cache.authorize([(b"x-api-key", b"cck_anything")]) is None
    assert not cache.read
    monkeypatch.undo()
    cache.invalidate()
    assert await cache.authorize([]) is clientkeys.OPEN  # read now: no keys, open
    assert cache.read


async def _create_key(name: str) -> tuple:
    from asgiref.sync import sync_to_async

    return await sync_to_async(credentials.create_client_key)(name=name)


def test_touch_client_keys_records_last_use() -> None:
    key, _ = credentials.create_client_key(name="ci")
    when = timezone.now()
    credentials.touch_client_keys({key.pk: when})
    assert ClientKey.objects.get(pk=key.pk).last_used_at == when


# The budgets inline's management form: the admin's key pages carry one.
NO_BUDGETS = {"budgets-TOTAL_FORMS": "0", "budgets-INITIAL_FORMS": "0"}


def test_admin_add_shows_the_secret_once_and_revokes(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", password="pw"))
    response = client.post(
        "/admin/access/clientkey/add/", {"name": "server-2", **NO_BUDGETS}, follow=True
    )
    text = response.content.decode()
    secret = text.split("it is not shown again: ")[1].split("<")[0].strip()
    key = ClientKey.objects.get(name="server-2")
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert client.get("/admin/access/apitoken/").status_code == 200
    client.post(
        "/admin/access/clientkey/",
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    assert ClientKey.objects.get(pk=key.pk).revoked_at is not None


def test_admin_rotates_a_keys_secret_and_keeps_its_budgets(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", password="pw"))
    key, old_secret = credentials.create_client_key(name="ci")
    keyrules.set_budget(key=key, metric="requests", window="1h", limit=5)

    response = client.post(
        "/admin/access/clientkey/",
        {"action": "rotate", "_selected_action": [key.pk]},
        follow=True,
    )

    secret = response.content.decode().split("it is not shown again: ")[1].split("<")[0].strip()
    key.refresh_from_db()
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest() != _hash(old_secret)
    assert (key.revoked_at, [str(b) for b in key.budgets.all()]) == (
        None,
        ["ci: 5 requests per hour"],
    )


def test_rotate_and_revoke_commands_say_what_becomes_of_budgets(
    capsys: pytest.CaptureFixture,
) -> None:
    key, _ = credentials.create_client_key(name="ci")
    keyrules.set_model_rules(key=key, allowed=["haiku"], denied=[])
    with pytest.raises(CommandError, match="No active client key named 'nobody'"):
        call_command("rotate_client_key", "nobody")

    call_command("revoke_client_key", "ci")

    said = capsys.readouterr().out
    assert "a new key of this name starts without them (rotate_client_key" in said
    with pytest.raises(CommandError, match="No active client key named 'ci'"):
        call_command("rotate_client_key", "ci")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def test_admin_sets_budgets_and_model_rules_with_the_apis_checks(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", password="pw"))
    key, _ = credentials.create_client_key(name="ci")
    url = f"/admin/access/clientkey/{key.pk}/change/"
    form = {
        "name": "ci",
        "allowed_models": "",
        "denied_models": "Opus, haiku",
        "budgets-TOTAL_FORMS": "1",
        "budgets-INITIAL_FORMS": "0",
        "budgets-0-metric": "pool_share",
        "budgets-0-window": "1d",
        "budgets-0-limit": "20",
    }
    refused = client.post(url, form)
    assert "A share of the pool is measured over 5h or 7d" in refused.content.decode()
    assert not key.budgets.exists()

    client.post(url, {**form, "budgets-0-window": "5h"})
    key.refresh_from_db()
    assert key.denied_models == ["haiku", "opus"]
    assert [str(b) for b in key.budgets.all()] == ["ci: 20% of the pool's 5-hour window"]
    assert "haiku, opus" in client.get(url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_note_the_use_still_lets_the_token_in(
    refuse_writes: Callable[[], None],
) -> None:
    # A full disk made every API call with a token a 500: /metrics and the TUI went blind.
    token, secret = credentials.create_api_token(name="scraper")
    refuse_writes()

    assert credentials.authenticate_token(secret) == token
    assert credentials.authenticate_token(secret) == token  # and the connection still reads


@pytest.mark.parametrize("name", ["line\nbreak", "\x1b[31mred", "tab\there", "a/b", "<b>x</b>"])
def test_key_and_token_names_follow_the_account_name_rule(name: str) -> None:
    # A slash made the key unreachable through /api/keys/NAME/...; escape codes and line
    # breaks went raw into terminal tables and logs.
    with pytest.raises(credentials.AccessError, match="Name may only use"):
        credentials.create_client_key(name=name)
    with pytest.raises(credentials.AccessError, match="Name may only use"):
        credentials.create_api_token(name=name)


@pytest.mark.parametrize(
    ("path", "name", "message"),
    [
        ("/admin/access/clientkey/add/", "taken", "An active client key named &#x27;taken&#x27;"),
        ("/admin/access/apitoken/add/", "taken", "An active API token named &#x27;taken&#x27;"),
        ("/admin/access/clientkey/add/", "no_key", "is reserved"),
        ("/admin/access/apitoken/add/", "No_Account", "is reserved"),
        ("/admin/access/apitoken/add/", "\u202ex", "may only use letters"),
    ],
)
def test_admin_refuses_a_name_the_api_refuses_and_shows_no_secret(
    client: Client, path: str, name: str, message: str
) -> None:
    client.force_login(User.objects.create_superuser("root", password="pw"))
    credentials.create_client_key(name="taken")
    credentials.create_api_token(name="taken")

    response = client.post(path, {"name": name, **NO_BUDGETS})

    text = response.content.decode()
    assert response.status_code == 200 and message in text
    assert "not shown again" not in text
    assert ClientKey.objects.count() == ApiToken.objects.count() == 1


def test_admin_renaming_a_key_to_its_own_name_is_no_clash(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", password="pw"))
    key, _ = credentials.create_client_key(name="ci")
    form = {"name": "ci", "allowed_models": "", "denied_models": "", **NO_BUDGETS}

    response = client.post(f"/admin/access/clientkey/{key.pk}/change/", form)

    assert response.status_code == 302


def test_admin_refuses_a_family_both_allowed_and_denied(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", password="pw"))
    key, _ = credentials.create_client_key(name="ci")
    form = {"name": "ci", "allowed_models": "haiku", "denied_models": "Haiku", **NO_BUDGETS}

    response = client.post(f"/admin/access/clientkey/{key.pk}/change/", form)

    assert "Allowed and denied at once: haiku" in response.content.decode()
    assert ClientKey.objects.get(pk=key.pk).allowed_models == []


def test_a_model_rule_lists_twenty_families_at_most(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", password="pw"))
    key, _ = credentials.create_client_key(name="ci")
    families = ", ".join(f"family{i}" for i in range(21))
    form = {"name": "ci", "allowed_models": families, "denied_models": "", **NO_BUDGETS}

    response = client.post(f"/admin/access/clientkey/{key.pk}/change/", form)

    assert "20 model families at most" in response.content.decode()
    assert ClientKey.objects.get(pk=key.pk).allowed_models == []
