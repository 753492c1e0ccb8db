"""Tests for accounts.lifecycle: the account life cycle shared by commands, admin and API."""

from collections.abc import Callable, Iterator

import pytest
from django.db.models.signals import post_init

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


@pytest.mark.parametrize(
    "name", ["0196a3e8-7c4d-7b1e-9f00-1234567890ab", "0196A3E87C4D7B1E9F001234567890AB"]
)
def test_a_name_that_reads_as_an_account_id_is_refused(name: str) -> None:
    # The API finds an account by its id first: such a name would address another account.
    with pytest.raises(lifecycle.AccountError, match="must not be an id"):
        lifecycle.create_api_key_account(name=name, api_key=API_KEY)
    account = make_account(name="work")
    with pytest.raises(lifecycle.AccountError, match="must not be an id"):
        lifecycle.rename_account(account=account, new_name=name)


@pytest.fixture
def deleted_after_lookup() -> Iterator[None]:
    """Another request deletes the account right after this one looked it up."""

    def delete_once(sender: type[Account], instance: Account, **kwargs: object) -> None:
        post_init.disconnect(delete_once, sender=Account)
        Account.objects.filter(pk=instance.pk).delete()

    post_init.connect(delete_once, sender=Account)
    yield
    post_init.disconnect(delete_once, sender=Account)


@pytest.mark.parametrize(
    "change",
    [
        lambda: lifecycle.pause_account(name="work"),
        lambda: lifecycle.clear_rate_limit(name="work"),
        lambda: lifecycle.set_tier(account=Account.objects.get(name="work"), tier=5),
        lambda: lifecycle.set_priority(account=Account.objects.get(name="work"), priority=3),
        lambda: lifecycle.rename_account(account=Account.objects.get(name="work"), new_name="x"),
    ],
    ids=["pause", "clear", "tier", "priority", "rename"],
)
def test_a_change_to_an_account_deleted_meanwhile_is_not_found(
    change: Callable[[], object], request: pytest.FixtureRequest
) -> None:
    make_account(name="work")
    request.getfixturevalue("deleted_after_lookup")

    with pytest.raises(lifecycle.AccountNotFound, match="Account 'work' not found"):
        change()


def test_resume_of_an_account_deleted_meanwhile_is_not_found(
    request: pytest.FixtureRequest,
) -> None:
    Account.objects.filter(pk=make_account(name="work").pk).update(paused=True)
    request.getfixturevalue("deleted_after_lookup")

    with pytest.raises(lifecycle.AccountNotFound):
        lifecycle.resume_account(name="work")
