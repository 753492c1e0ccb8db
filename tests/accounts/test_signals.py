"""Account signals: transitions are announced once, where health changes; steady states are not."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.dispatch import Signal
from django.utils import timezone

from accounts import health, signals, tokens
from accounts.models import Account
from accounts.pool import AccountPool
from tests.conftest import FakeUpstream
from tests.factories import make_oauth_account


@pytest.fixture
def heard() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """What the account signals said while the test ran: (signal name, arguments)."""
    said: list[tuple[str, dict[str, Any]]] = []
    listeners = {}
    for name in ("account_needs_reauth", "window_nearly_full", "pool_exhausted"):
        signal: Signal = getattr(signals, name)

        def listener(*, sender: Any, signal: Signal, _name: str = name, **kwargs: Any) -> None:
            said.append((_name, kwargs))

        listeners[name] = listener
        signal.connect(listener, weak=False)
    yield said
    for name, listener in listeners.items():
        getattr(signals, name).disconnect(listener)


def test_a_rejected_credential_is_announced_once(heard: list) -> None:
    account = Account(name="work")
    pool = AccountPool()

    pool.update(account, **health.credential_rejected("HTTP 401"))
    pool.update(account, **health.credential_rejected("HTTP 401 again"))

    assert heard == [("account_needs_reauth", {"account_name": "work", "reason": "HTTP 401"})]


@pytest.mark.parametrize(
    ("before", "after", "announced"),
    [
        (None, 0.9, True),
        (0.5, 0.95, True),
        (0.89, 1.0, True),
        (0.92, 0.97, False),  # already past: every response repeats the headers
        (0.5, 0.89, False),
        (0.95, 0.3, False),  # the window reset
        (0.5, None, False),
    ],
)
def test_a_window_is_announced_when_it_passes_90_percent(
    heard: list, before: float | None, after: float | None, announced: bool
) -> None:
    account = Account(name="work", seven_day_utilization=before)

    AccountPool().update(account, seven_day_utilization=after)

    expected = {"account_name": "work", "window": "7-day", "utilization": after}
    assert heard == ([("window_nearly_full", expected)] if announced else [])


def test_both_windows_passing_at_once_are_two_announcements(heard: list) -> None:
    account = Account(name="work", five_hour_utilization=0.1, seven_day_utilization=0.1)

    AccountPool().update(account, five_hour_utilization=0.91, seven_day_utilization=0.93)

    assert [kwargs["window"] for _, kwargs in heard] == ["5-hour", "7-day"]


def test_other_changes_announce_nothing(heard: list) -> None:
    account = Account(name="work", reauth_reason="dead key")

    AccountPool().update(account, rate_limited_until=timezone.now(), failure_streak=0)
    AccountPool().update(account, **health.new_credentials())

    assert heard == []


@pytest.mark.django_db
def test_a_refresh_token_rejected_by_the_endpoint_is_announced(
    heard: list, oauth_upstream: FakeUpstream
) -> None:
    account = make_oauth_account(name="work", expires_at=timezone.now() + timedelta(seconds=10))
    oauth_upstream.add_rule(
        credential="*", path="/v1/oauth/token", status=400, body={"error": "invalid_grant"}
    )

    with pytest.raises(tokens.NeedsReauth):
        async_to_sync(tokens.ensure_fresh)(account)

    assert [(name, kwargs["account_name"]) for name, kwargs in heard] == [
        ("account_needs_reauth", "work")
    ]


def test_a_failing_listener_never_reaches_the_caller(heard: list) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("listener bug")

    signals.pool_exhausted.connect(broken, weak=False)
    try:
        signals.announce_exhausted(status=503, message="No usable account")
    finally:
        signals.pool_exhausted.disconnect(broken)

    assert heard == [("pool_exhausted", {"status": 503, "message": "No usable account"})]
