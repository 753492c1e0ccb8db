"""Tests for accounts.lifecycle: the account life cycle shared by commands, admin and API."""

import pytest

from accounts import lifecycle
from accounts.models import Account
from tests.factories import make_account

pytestmark = pytest.mark.django_db

API_KEY = "sk-ant-api03-service-test-key-abcd"


def test_create_api_key_account_saves_the_given_fields() -> None:
    account = lifecycle.create_api_key_account(name="work", api_key=API_KEY, tier=5, priority=2)

    saved = Account.objects.get(pk=account.pk)
    assert (saved.name, saved.kind, saved.api_key, saved.tier, saved.priority) == (
        "work",
        Account.Kind.API_KEY,
        API_KEY,
        5,
        2,
    )


def test_create_api_key_account_defaults_to_tier_1_priority_0() -> None:
    account = lifecycle.create_api_key_account(name="work", api_key=API_KEY)

    assert (account.tier, account.priority) == (1, 0)


def test_create_api_key_account_strips_the_key() -> None:
    account = lifecycle.create_api_key_account(name="work", api_key=f"  {API_KEY}\n")

    assert Account.objects.get(pk=account.pk).api_key == API_KEY


@pytest.mark.parametrize("api_key", ["", "   ", "\n"])
def test_create_api_key_account_rejects_an_empty_key(api_key: str) -> None:
    with pytest.raises(lifecycle.AccountError, match="API key must not be empty"):
        lifecycle.create_api_key_account(name="work", api_key=api_key)

    assert not Account.objects.exists()


def test_create_api_key_account_rejects_a_taken_name() -> None:
    make_account(name="work")

    with pytest.raises(lifecycle.AccountError, match="Account with name 'work' already exists"):
        lifecycle.create_api_key_account(name="work", api_key=API_KEY)

    assert Account.objects.count() == 1


@pytest.mark.parametrize("tier", [0, 2, 10, 100])
def test_create_api_key_account_rejects_an_unknown_tier(tier: int) -> None:
    with pytest.raises(lifecycle.AccountError, match="Tier must be one of 1, 5, 20"):
        lifecycle.create_api_key_account(name="work", api_key=API_KEY, tier=tier)

    assert not Account.objects.exists()


@pytest.mark.parametrize("name", ["bad/name", "semi;colon", "quote'd", "emoji-🚀"])
def test_create_api_key_account_rejects_invalid_name_characters(name: str) -> None:
    with pytest.raises(lifecycle.AccountError, match="Name may only use letters, digits"):
        lifecycle.create_api_key_account(name=name, api_key=API_KEY)

    assert not Account.objects.exists()


def test_create_api_key_account_rejects_a_blank_name() -> None:
    with pytest.raises(lifecycle.AccountError, match="Name must not be empty"):
        lifecycle.create_api_key_account(name="", api_key=API_KEY)


def test_create_api_key_account_is_an_account_error_and_a_value_error() -> None:
    with pytest.raises(ValueError):
        lifecycle.create_api_key_account(name="work", api_key="")


def test_get_account_returns_the_named_account() -> None:
    account = make_account(name="work")

    assert lifecycle.get_account(name="work") == account


def test_get_account_raises_for_an_unknown_name() -> None:
    with pytest.raises(lifecycle.AccountError, match="Account 'ghost' not found"):
        lifecycle.get_account(name="ghost")


def test_pause_account_marks_the_account_paused() -> None:
    make_account(name="work", paused=False)

    lifecycle.pause_account(name="work")

    assert Account.objects.get(name="work").paused is True


def test_pause_account_rejects_an_already_paused_account() -> None:
    make_account(name="work", paused=True)

    with pytest.raises(lifecycle.AccountError, match="Account 'work' is already paused"):
        lifecycle.pause_account(name="work")


def test_pause_account_rejects_an_unknown_name() -> None:
    with pytest.raises(lifecycle.AccountError, match="Account 'ghost' not found"):
        lifecycle.pause_account(name="ghost")


def test_resume_account_clears_the_paused_flag() -> None:
    make_account(name="work", paused=True)

    lifecycle.resume_account(name="work")

    assert Account.objects.get(name="work").paused is False


def test_resume_account_rejects_an_account_that_is_not_paused() -> None:
    make_account(name="work", paused=False)

    with pytest.raises(lifecycle.AccountError, match="Account 'work' is not paused"):
        lifecycle.resume_account(name="work")


def test_resume_account_rejects_an_unknown_name() -> None:
    with pytest.raises(lifecycle.AccountError, match="Account 'ghost' not found"):
        lifecycle.resume_account(name="ghost")


def test_remove_account_deletes_only_the_named_account() -> None:
    make_account(name="work")
    make_account(name="home")

    lifecycle.remove_account(name="work")

    assert list(Account.objects.values_list("name", flat=True)) == ["home"]


def test_remove_account_rejects_an_unknown_name() -> None:
    with pytest.raises(lifecycle.AccountError, match="Account 'ghost' not found"):
        lifecycle.remove_account(name="ghost")
