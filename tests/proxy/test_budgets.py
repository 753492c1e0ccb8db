"""The budget tracker on its own: what it counts between re-reads, and how stale it may be.

Real database rows, real threads; `now` is passed in where the window's edge matters.
"""

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from access import credentials
from access.policy import Budget, KeyPolicy
from analytics.models import Request
from analytics.reporting import key_usage
from proxy import budgets

pytestmark = pytest.mark.django_db(transaction=True)

HOUR = 3600


@pytest.fixture
def alice() -> KeyPolicy:
    key, _ = credentials.create_client_key(name="alice")
    return KeyPolicy(key.pk, "alice", (Budget("requests", "1h", 2),))


def new_id() -> str:
    return str(uuid.uuid4())


def row(policy: KeyPolicy, *, at: float | None = None, request_id: str | None = None) -> None:
    """A request recorded by some process: this one, or another on the same database."""
    Request.objects.create(
        id=request_id or uuid.uuid4(),
        client_key_id=policy.key_id,
        timestamp=datetime.fromtimestamp(at or time.time(), tz=UTC),
        method="POST",
        path="/v1/messages",
        status_code=200,
    )


async def test_requests_let_through_count_before_their_rows_exist(
    settings: object, alice: KeyPolicy
) -> None:
    settings.ACCOUNT_CACHE_SECONDS = 1000  # type: ignore[attr-defined]  # no re-read here
    tracker = budgets.BudgetTracker()

    assert await tracker.admit(alice, new_id()) is None
    assert await tracker.admit(alice, new_id()) is None
    refused = await tracker.admit(alice, new_id())

    assert refused is not None and refused.used == 2
    assert refused.budget.describe() == "2 requests per hour"
    assert HOUR - 5 <= refused.retry_after <= HOUR


async def test_another_process_requests_are_seen_at_the_next_read_and_not_before(
    settings: object, alice: KeyPolicy
) -> None:
    settings.ACCOUNT_CACHE_SECONDS = 1000  # type: ignore[attr-defined]
    tracker = budgets.BudgetTracker()
    assert await tracker.admit(alice, new_id()) is None
    await sync_to_async(row)(alice)  # the other process's request, recorded
    await sync_to_async(row)(alice)

    # Within ACCOUNT_CACHE_SECONDS this process still sees only its own request.
    assert tracker.used(alice.key_id, alice.budgets[0]) == 1
    settings.ACCOUNT_CACHE_SECONDS = 0  # type: ignore[attr-defined]  # the interval is over
    refused = await tracker.admit(alice, new_id())
    assert refused is not None and refused.used == 3


async def test_a_pending_request_is_counted_once_when_its_row_appears(
    settings: object, alice: KeyPolicy
) -> None:
    settings.ACCOUNT_CACHE_SECONDS = 0  # type: ignore[attr-defined]
    tracker = budgets.BudgetTracker()
    request_id = new_id()
    assert await tracker.admit(alice, request_id) is None
    await sync_to_async(row)(alice, request_id=request_id)  # its own row, written

    assert await tracker.admit(alice, new_id()) is None  # 1 recorded + this one
    assert tracker.used(alice.key_id, alice.budgets[0]) == 2


async def test_retry_after_is_when_the_oldest_request_leaves_the_window(
    settings: object, alice: KeyPolicy
) -> None:
    settings.ACCOUNT_CACHE_SECONDS = 0  # type: ignore[attr-defined]
    now = time.time()
    await sync_to_async(row)(alice, at=now - 40 * 60)  # frees up in 20 minutes
    await sync_to_async(row)(alice, at=now - 10 * 60)
    refused = await budgets.BudgetTracker().admit(alice, new_id())
    assert refused is not None
    assert 20 * 60 - 5 <= refused.retry_after <= 20 * 60 + 1


def test_long_windows_reread_their_old_part_once_a_minute_and_never_free_early(
    alice: KeyPolicy,
) -> None:
    reader = budgets.WindowReader()
    day = 86400
    now = time.time()
    row(alice, at=now - day + 30)  # leaves the day's window in 30 s
    assert reader.read([alice.key_id], day, now)[alice.key_id].requests == 1

    # 45 s later the row is out of the window, but the old part is kept a minute: it
    # still counts (the budget frees a little late, never early).
    later = now + 45
    reader.forget_old(later)
    assert reader.read([alice.key_id], day, later)[alice.key_id].requests == 1
    row(alice, at=later)  # recent rows are read every time
    assert reader.read([alice.key_id], day, later)[alice.key_id].requests == 2
    much_later = now + budgets.OLD_PART_SECONDS + 1
    reader.forget_old(much_later)
    assert reader.read([alice.key_id], day, much_later)[alice.key_id].requests == 1


async def test_over_since_the_last_read_retry_after_counts_from_the_oldest_request(
    settings: object, alice: KeyPolicy
) -> None:
    settings.ACCOUNT_CACHE_SECONDS = 1000  # type: ignore[attr-defined]  # one read only
    await sync_to_async(row)(alice, at=time.time() - 40 * 60)
    tracker = budgets.BudgetTracker()
    assert await tracker.admit(alice, new_id()) is None  # read: 1 recorded, under 2

    refused = await tracker.admit(alice, new_id())  # 1 recorded + 1 pending

    assert refused is not None and refused.used == 2
    assert 20 * 60 - 5 <= refused.retry_after <= 20 * 60 + 1


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's read transaction is IMMEDIATE: no writer gets in between its reads",
)
async def test_a_row_written_during_a_read_is_not_counted_twice(
    settings: object, alice: KeyPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pending request's row lands between the read of which rows are written and the
    # read of the tallies: both must come from one snapshot, or it counts as two.
    settings.ACCOUNT_CACHE_SECONDS = 0  # type: ignore[attr-defined]
    tracker = budgets.BudgetTracker()
    request_id = new_id()
    assert await tracker.admit(alice, request_id) is None
    real_written = key_usage.written

    def written_then_recorded(ids: list[str]) -> set[str]:
        seen = real_written(ids)
        recorder = threading.Thread(target=recorded_elsewhere, args=(alice, request_id))
        recorder.start()
        recorder.join()
        return seen

    monkeypatch.setattr(key_usage, "written", written_then_recorded)

    assert await tracker.admit(alice, new_id()) is None  # 1 (pending) + this one: within 2


def recorded_elsewhere(policy: KeyPolicy, request_id: str) -> None:
    """The recorder's write, committed on a connection of its own (another thread)."""
    try:
        row(policy, request_id=request_id)
    finally:
        connection.close()
