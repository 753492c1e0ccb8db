"""The session strategy, as a pure function of accounts and time."""

from datetime import UTC, datetime, timedelta

from accounts import selection
from accounts.models import Account

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FIVE_HOURS = timedelta(hours=5)


def account(name: str, *, priority: int = 0, age_minutes: int = 0, **fields: object) -> Account:
    return Account(
        name=name,
        priority=priority,
        created_at=NOW - timedelta(days=1, minutes=-age_minutes),
        **fields,
    )


def names(accounts: list[Account]) -> list[str]:
    return [a.name for a in accounts]


def test_new_session_starts_on_lowest_priority_account() -> None:
    a, b = account("a", priority=1), account("b", priority=0, age_minutes=5)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b", "a"]
    assert plan.start_session is b


def test_equal_priority_prefers_older_account() -> None:
    older, newer = account("older"), account("newer", age_minutes=10)
    plan = selection.plan([newer, older], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["older", "newer"]


def test_live_session_account_goes_first_whatever_its_priority() -> None:
    a = account("a", priority=0)
    b = account("b", priority=9, session_start=NOW - timedelta(hours=1))
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b", "a"]
    assert plan.start_session is None


def test_expired_session_is_not_sticky() -> None:
    a = account("a", priority=0)
    b = account("b", priority=9, session_start=NOW - timedelta(hours=5, seconds=1))
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["a", "b"]
    assert plan.start_session is a


def test_rate_limited_session_account_is_skipped_with_reason() -> None:
    until = NOW + timedelta(minutes=30)
    a = account("a", session_start=NOW - timedelta(minutes=10), rate_limited_until=until)
    b = account("b", priority=1)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b"]
    assert plan.skipped == [(a, f"rate-limited until {until.isoformat()}")]
    assert plan.start_session is b


def test_paused_accounts_are_never_candidates() -> None:
    a, b = account("a", paused=True), account("b", priority=1)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b"]
    assert plan.skipped == [(a, "paused")]


def test_past_rate_limit_no_longer_blocks() -> None:
    a = account("a", rate_limited_until=NOW - timedelta(seconds=1))
    plan = selection.plan([a], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["a"]


def test_no_usable_account_gives_empty_plan() -> None:
    a = account("a", paused=True)
    plan = selection.plan([a], now=NOW, duration=FIVE_HOURS)
    assert plan.candidates == []
    assert plan.start_session is None


def test_live_session_of_first_candidate_is_kept_not_restarted() -> None:
    start = NOW - timedelta(hours=1)
    a = account("a", session_start=start)
    plan = selection.plan([a], now=NOW, duration=FIVE_HOURS)
    assert plan.start_session is None


def test_cooling_down_account_is_skipped_with_reason() -> None:
    until = NOW + timedelta(seconds=20)
    a = account("a", cooldown_until=until, cooldown_reason="HTTP 503 after 3 retries")
    b = account("b", priority=1)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b"]
    assert plan.skipped == [
        (a, f"cooling down until {until.isoformat()}: HTTP 503 after 3 retries")
    ]


def test_account_needing_reauth_is_skipped_with_reason() -> None:
    a = account("a", reauth_reason="refresh token rejected")
    plan = selection.plan([a], now=NOW, duration=FIVE_HOURS)
    assert plan.candidates == []
    assert plan.skipped == [(a, "needs re-auth: refresh token rejected")]


def test_past_cooldown_no_longer_blocks() -> None:
    a = account("a", cooldown_until=NOW, cooldown_reason="network error")
    plan = selection.plan([a], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["a"]


def test_live_session_account_cooling_down_hands_over_to_the_next() -> None:
    a = account("a", session_start=NOW - timedelta(minutes=1), cooldown_until=NOW + FIVE_HOURS)
    b = account("b", priority=1)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b"]
    assert plan.start_session is b


def test_the_most_recent_session_is_the_live_one() -> None:
    # "a" had the conversation earlier; "b" took it over after a failover.
    a = account("a", session_start=NOW - timedelta(hours=2))
    b = account("b", priority=1, session_start=NOW - timedelta(minutes=5))
    c = account("c", priority=2, session_start=NOW - timedelta(hours=3))
    plan = selection.plan([a, b, c], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b", "a", "c"]
    assert plan.start_session is None


def test_a_session_ends_exactly_at_its_duration() -> None:
    a = account("a", priority=0)
    b = account("b", priority=9, session_start=NOW - FIVE_HOURS)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["a", "b"]
    assert plan.start_session is a


def test_first_account_with_an_ended_session_of_its_own_starts_a_new_one() -> None:
    a = account("a", session_start=NOW - FIVE_HOURS)
    plan = selection.plan([a], now=NOW, duration=FIVE_HOURS)
    assert plan.start_session is a


def test_first_account_starts_a_new_session_when_the_live_one_is_elsewhere_and_unusable() -> None:
    a = account("a", session_start=NOW - timedelta(hours=6))
    b = account("b", priority=1, session_start=NOW - timedelta(minutes=1), paused=True)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["a"]
    assert plan.start_session is a
