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
    assert plan.holder is None
    assert selection.takes_session(b, plan.holder, now=NOW)


def test_equal_priority_prefers_older_account() -> None:
    older, newer = account("older"), account("newer", age_minutes=10)
    plan = selection.plan([newer, older], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["older", "newer"]


def test_live_session_account_goes_first_whatever_its_priority() -> None:
    a = account("a", priority=0)
    b = account("b", priority=9, session_start=NOW - timedelta(hours=1), holds_session=True)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b", "a"]
    assert plan.holder is b
    assert not selection.takes_session(b, plan.holder, now=NOW)


def test_expired_session_is_not_sticky() -> None:
    a = account("a", priority=0)
    b = account(
        "b", priority=9, session_start=NOW - timedelta(hours=5, seconds=1), holds_session=True
    )
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["a", "b"]
    assert plan.holder is None


def test_rate_limited_session_account_is_skipped_with_reason() -> None:
    until = NOW + timedelta(minutes=30)
    a = account(
        "a", session_start=NOW - timedelta(minutes=10), rate_limited_until=until, holds_session=True
    )
    b = account("b", priority=1)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b"]
    assert plan.skipped == [(a, f"rate-limited until {until.isoformat()}")]
    assert selection.takes_session(b, plan.holder, now=NOW)


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
    assert plan.holder is None


def test_live_session_of_first_candidate_is_kept_not_restarted() -> None:
    start = NOW - timedelta(hours=1)
    a = account("a", session_start=start, holds_session=True)
    plan = selection.plan([a], now=NOW, duration=FIVE_HOURS)
    assert plan.holder is a
    assert not selection.takes_session(a, plan.holder, now=NOW)


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
    a = account(
        "a",
        session_start=NOW - timedelta(minutes=1),
        cooldown_until=NOW + FIVE_HOURS,
        holds_session=True,
    )
    b = account("b", priority=1)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b"]
    assert selection.takes_session(b, plan.holder, now=NOW)


def test_a_recovered_account_does_not_take_the_session_back() -> None:
    # a served first, then b took over during a's rate limit; a's limit is over now.
    a = account("a", priority=0, session_start=NOW - timedelta(hours=1))
    b = account("b", priority=1, session_start=NOW - timedelta(minutes=5), holds_session=True)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["b", "a"]
    assert plan.holder is b


def test_the_latest_session_start_does_not_decide_the_holder() -> None:
    a = account("a", session_start=NOW - timedelta(hours=1), holds_session=True)
    b = account("b", priority=1, session_start=NOW - timedelta(minutes=1))
    assert selection.plan([a, b], now=NOW, duration=FIVE_HOURS).holder is a


def opus_capped(name: str, **fields: object) -> Account:
    limit = {"opus": {"until": (NOW + FIVE_HOURS).isoformat(), "claim": "seven_day_opus"}}
    return account(name, model_limits=limit, **fields)


def test_a_per_model_cap_skips_the_account_for_that_family_only() -> None:
    a = opus_capped("a", session_start=NOW - timedelta(minutes=1), holds_session=True)
    b = account("b", priority=1)

    opus = selection.plan([a, b], now=NOW, duration=FIVE_HOURS, family="opus")
    sonnet = selection.plan([a, b], now=NOW, duration=FIVE_HOURS, family="sonnet")

    assert names(opus.candidates) == ["b"]
    assert opus.skipped[0][1].startswith("opus limit (seven_day_opus) until ")
    assert names(sonnet.candidates) == ["a", "b"]
    # b serves the Opus call, but the session (and a's Sonnet cache) stays with a.
    assert not selection.takes_session(b, opus.holder, now=NOW)


def test_an_expired_per_model_cap_no_longer_skips() -> None:
    limit = {"opus": {"until": (NOW - timedelta(seconds=1)).isoformat(), "claim": "seven_day_opus"}}
    a = account("a", model_limits=limit)
    assert names(selection.plan([a], now=NOW, duration=FIVE_HOURS, family="opus").candidates) == [
        "a"
    ]


def test_a_session_ends_exactly_at_its_duration() -> None:
    a = account("a", priority=0)
    b = account("b", priority=9, session_start=NOW - FIVE_HOURS, holds_session=True)
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["a", "b"]
    assert plan.holder is None
    assert selection.takes_session(a, plan.holder, now=NOW)


def test_a_session_just_inside_its_duration_is_live() -> None:
    b = account("b", session_start=NOW - FIVE_HOURS + timedelta(microseconds=1), holds_session=True)
    assert selection.plan([b], now=NOW, duration=FIVE_HOURS).holder is b


def test_the_live_holder_elsewhere_and_unusable_hands_over_to_the_first_usable() -> None:
    a = account("a", session_start=NOW - timedelta(hours=6))
    b = account(
        "b", priority=1, session_start=NOW - timedelta(minutes=1), paused=True, holds_session=True
    )
    plan = selection.plan([a, b], now=NOW, duration=FIVE_HOURS)
    assert names(plan.candidates) == ["a"]
    assert plan.holder is b
    assert selection.takes_session(a, plan.holder, now=NOW)
