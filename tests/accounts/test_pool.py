"""The account pool's write-behind: per-model caps merge into the stored ones, per family."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError

from accounts import health, lifecycle
from accounts import pool as pool_module
from accounts.models import Account
from accounts.pool import AccountPool
from tests.factories import make_account

pytestmark = pytest.mark.django_db

IN_A_WEEK = datetime.now(UTC) + timedelta(days=7)


def cap(claim: str) -> dict[str, str]:
    return health.family_cap(until=IN_A_WEEK, claim=claim)


def stored_caps(account: Account) -> set[str]:
    account.refresh_from_db()
    return set(account.model_limits)


def test_two_workers_capping_other_families_of_one_account_keep_both() -> None:
    account = make_account(name="shared-caps")
    # Each worker has its own snapshot of the account, loaded before either cap.
    first, second = AccountPool(), AccountPool()
    seen_by_first = Account.objects.get(pk=account.pk)
    seen_by_second = Account.objects.get(pk=account.pk)

    first.cap_family(seen_by_first, "opus", cap("seven_day_opus"))
    second.cap_family(seen_by_second, "sonnet", cap("seven_day_sonnet"))
    first.flush_sync()
    second.flush_sync()

    assert stored_caps(account) == {"opus", "sonnet"}


def test_a_new_cap_does_not_bring_back_the_caps_the_admin_lifted() -> None:
    account = make_account(name="lifted-caps", model_limits={"opus": cap("seven_day_opus")})
    pool = AccountPool()
    snapshot = Account.objects.get(pk=account.pk)
    lifecycle.clear_rate_limit(name=account.name)

    pool.cap_family(snapshot, "sonnet", cap("seven_day_sonnet"))
    pool.flush_sync()

    assert stored_caps(account) == {"sonnet"}
    # The snapshot holds both until its next reload: the cap applies at once in memory.
    assert set(snapshot.model_limits) == {"opus", "sonnet"}


def test_expired_caps_are_dropped_when_a_family_is_capped() -> None:
    gone = health.family_cap(until=datetime.now(UTC) - timedelta(minutes=1), claim="seven_day_x")
    account = make_account(name="expired-caps", model_limits={"haiku": gone})
    pool = AccountPool()

    pool.cap_family(account, "opus", cap("seven_day_opus"))
    pool.flush_sync()

    assert stored_caps(account) == {"opus"}


# Committed for real: a failed flush on PostgreSQL closes the connection (lib.db_away).
@pytest.mark.django_db(transaction=True)
def test_caps_a_failed_flush_could_not_write_wait_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = make_account(name="waiting-caps")
    pool = AccountPool()
    pool.cap_family(account, "opus", cap("seven_day_opus"))

    def away(account_id: object, added: object) -> None:
        raise OperationalError("database is locked")

    with monkeypatch.context() as patched:
        patched.setattr(pool_module, "_merge_caps", away)
        pool.flush_sync()
    assert stored_caps(account) == set()

    pool.cap_family(account, "sonnet", cap("seven_day_sonnet"))
    pool.flush_sync()
    assert stored_caps(account) == {"opus", "sonnet"}


def test_a_cap_for_an_account_deleted_meanwhile_is_let_go() -> None:
    account = make_account(name="deleted-caps")
    pool = AccountPool()
    pool.cap_family(account, "opus", cap("seven_day_opus"))
    Account.objects.filter(pk=account.pk).delete()

    pool.flush_sync()

    assert not Account.objects.filter(pk=account.pk).exists()
