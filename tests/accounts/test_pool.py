"""The account pool's write-behind: per-model caps merge into the stored ones, per family;
a session's start counts the requests recorded before it was written."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError

from accounts import health, lifecycle
from accounts import pool as pool_module
from accounts.models import Account
from accounts.pool import AccountPool
from analytics.recording import write_behind
from lib import ids
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


# Sessions: the recorder's counts for a session's first requests may be written before the
# pool writes the session's start.

SESSION = timedelta(hours=5)


def record_requests(account: Account, *starts: datetime) -> None:
    """What the recorder writes for requests the account served: rows, counters bumped."""
    write_behind.write_batch(
        [
            write_behind.RequestRecord(
                id=ids.uuid7_text(),
                started_at=start.timestamp(),
                method="POST",
                path="/v1/messages",
                account_id=account.pk,
                status_code=200,
                success=True,
            )
            for start in starts
        ]
    )


def stored_session(account: Account) -> tuple[datetime | None, int]:
    account.refresh_from_db()
    return account.session_start, account.session_request_count


def test_a_session_counts_the_requests_recorded_before_its_start_was_written() -> None:
    old = datetime.now(UTC) - SESSION - timedelta(minutes=1)
    account = make_account(name="race", session_start=old, session_request_count=40)
    pool = AccountPool()
    start = datetime.now(UTC)
    pool.start_session(account, start, replaced_before=start - SESSION)
    assert (account.session_start, account.session_request_count) == (start, 0)
    # The session's first two requests are recorded before the pool's flush.
    record_requests(account, start, start + timedelta(milliseconds=5))

    pool.flush_sync()
    assert stored_session(account) == (start, 2)

    record_requests(account, start + timedelta(seconds=1))
    assert stored_session(account) == (start, 3)
    assert account.total_requests == 3


def test_a_request_of_the_expired_session_is_not_counted_in_the_new_one() -> None:
    start = datetime.now(UTC)
    old = start - SESSION - timedelta(minutes=1)
    account = make_account(name="expired", session_start=old, session_request_count=1)
    record_requests(account, old + timedelta(seconds=1))
    pool = AccountPool()

    pool.start_session(account, start, replaced_before=start - SESSION)
    pool.flush_sync()

    assert stored_session(account) == (start, 0)


def test_a_session_another_worker_started_meanwhile_is_the_same_session() -> None:
    old = datetime.now(UTC) - SESSION - timedelta(minutes=1)
    account = make_account(name="two-starts", session_start=old)
    # Both workers' snapshots hold the expired session; each starts a new one.
    first, second = AccountPool(), AccountPool()
    seen_by_first = Account.objects.get(pk=account.pk)
    seen_by_second = Account.objects.get(pk=account.pk)
    started_first = datetime.now(UTC)
    started_second = started_first + timedelta(milliseconds=300)
    first.start_session(seen_by_first, started_first, replaced_before=started_first - SESSION)
    first.flush_sync()
    record_requests(account, started_first, started_first + timedelta(milliseconds=100))

    second.start_session(seen_by_second, started_second, replaced_before=started_second - SESSION)
    second.flush_sync()

    assert stored_session(account) == (started_first, 2)


def test_a_session_a_failed_flush_could_not_write_waits_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = make_account(name="waiting-session")
    pool = AccountPool()
    start = datetime.now(UTC)
    pool.start_session(account, start, replaced_before=start - SESSION)

    def away(*args: object) -> None:
        raise OperationalError("database is locked")

    with monkeypatch.context() as patched:
        patched.setattr(pool_module, "_start_session", away)
        # On PostgreSQL a failed flush drops its thread's connection: here the test's own.
        patched.setattr(pool_module.db_away, "after_failure", lambda *args: None)
        pool.flush_sync()
    assert stored_session(account) == (None, 0)

    pool.flush_sync()
    assert stored_session(account) == (start, 0)
