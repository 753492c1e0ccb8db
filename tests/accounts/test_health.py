"""Account health: every state, its reason and until-when, and the way out of each."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from time_machine import TimeMachineFixture

from accounts import health, lifecycle, onboarding
from accounts.models import Account, Health, HealthState, cooldown_delay
from tests.factories import make_account

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def state_of(name: str) -> HealthState:
    return Account.objects.get(name=name).health(datetime.now(UTC)).state


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, Health(HealthState.OK)),
        ({"paused": True}, Health(HealthState.PAUSED)),
        ({"rate_limited_until": LATER}, Health(HealthState.RATE_LIMITED, "", LATER)),
        (
            {"cooldown_until": LATER, "cooldown_reason": "network error"},
            Health(HealthState.COOLING_DOWN, "network error", LATER),
        ),
        ({"reauth_reason": "token rejected"}, Health(HealthState.NEEDS_REAUTH, "token rejected")),
        # The first that applies wins: a manual pause, then what only a person can fix.
        ({"paused": True, "reauth_reason": "token rejected"}, Health(HealthState.PAUSED)),
        (
            {"reauth_reason": "token rejected", "rate_limited_until": LATER},
            Health(HealthState.NEEDS_REAUTH, "token rejected"),
        ),
        (
            {"rate_limited_until": LATER, "cooldown_until": LATER + timedelta(1)},
            Health(HealthState.RATE_LIMITED, "", LATER),
        ),
        # The limit the upstream named, when it named one.
        (
            {"rate_limited_until": LATER, "rate_limit_claim": "seven_day_opus"},
            Health(HealthState.RATE_LIMITED, "seven_day_opus limit", LATER),
        ),
        (
            {"rate_limited_until": LATER, "five_hour_utilization": 1.0},
            Health(HealthState.RATE_LIMITED, "5-hour window full", LATER),
        ),
        # Past moments no longer count.
        ({"rate_limited_until": NOW, "cooldown_until": NOW}, Health(HealthState.OK)),
    ],
)
def test_health_of_an_account(fields: dict[str, Any], expected: Health) -> None:
    assert Account(name="a", **fields).health(NOW) == expected


@pytest.mark.parametrize(
    ("health", "text"),
    [
        (Health(HealthState.OK), "ok"),
        (Health(HealthState.PAUSED), "paused"),
        (Health(HealthState.RATE_LIMITED, "", LATER), f"rate-limited until {LATER.isoformat()}"),
        (
            Health(HealthState.COOLING_DOWN, "HTTP 503", LATER),
            f"cooling down until {LATER.isoformat()}: HTTP 503",
        ),
        (Health(HealthState.NEEDS_REAUTH, "token rejected"), "needs re-auth: token rejected"),
    ],
)
def test_health_in_words(health: Health, text: str) -> None:
    assert health.describe() == text


def test_cooldown_doubles_up_to_the_cap(settings: Any) -> None:
    settings.COOLDOWN_BASE_SECONDS, settings.COOLDOWN_MAX_SECONDS = 10, 600

    delays = [cooldown_delay(n).total_seconds() for n in range(1, 9)]

    assert delays == [10, 20, 40, 80, 160, 320, 600, 600]


def test_failures_of_requests_in_flight_together_count_once(settings: Any) -> None:
    settings.COOLDOWN_BASE_SECONDS, settings.COOLDOWN_MAX_SECONDS = 10, 600
    account = Account(name="a")
    sent = NOW - timedelta(seconds=1)  # all sent before the first of them failed

    first = health.own_failure(account, "HTTP 500", now=NOW, began=sent)
    for name, value in first.items():
        setattr(account, name, value)
    later = health.own_failure(account, "HTTP 500", now=NOW + timedelta(seconds=2), began=sent)

    assert (first["failure_streak"], first["cooldown_until"]) == (1, NOW + timedelta(seconds=10))
    assert later == {}  # was a streak of 2 and twice the cooldown, per request of the burst


def test_a_failure_begun_after_the_cooldown_began_counts_in_the_streak(settings: Any) -> None:
    settings.COOLDOWN_BASE_SECONDS, settings.COOLDOWN_MAX_SECONDS = 10, 600
    account = Account(name="a", failure_streak=1, cooldown_until=NOW + timedelta(seconds=10))

    during = health.own_failure(account, "HTTP 500", now=NOW + timedelta(seconds=3), began=NOW)
    unknown = health.own_failure(account, "refresh failed", now=NOW + timedelta(seconds=3))

    assert during["failure_streak"] == unknown["failure_streak"] == 2


@pytest.mark.django_db
def test_rate_limited_until_t_exits_at_t(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)
    make_account(name="a", rate_limited_until=LATER)
    assert state_of("a") == HealthState.RATE_LIMITED

    time_machine.move_to(LATER - timedelta(seconds=1), tick=False)
    assert state_of("a") == HealthState.RATE_LIMITED
    time_machine.move_to(LATER, tick=False)
    assert state_of("a") == HealthState.OK


@pytest.mark.django_db
def test_cooling_down_exits_after_its_delay(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)
    make_account(name="a", cooldown_until=NOW + cooldown_delay(1), cooldown_reason="HTTP 500")
    assert state_of("a") == HealthState.COOLING_DOWN

    time_machine.move_to(NOW + cooldown_delay(1), tick=False)
    assert state_of("a") == HealthState.OK


@pytest.mark.django_db
def test_needs_reauth_exits_on_new_credentials() -> None:
    make_account(name="a", kind=Account.Kind.SETUP_TOKEN, reauth_reason="credential rejected")
    assert state_of("a") == HealthState.NEEDS_REAUTH

    onboarding.add_setup_token(name="a", token="sk-ant-oat01-new-token")

    assert state_of("a") == HealthState.OK


@pytest.mark.django_db
def test_needs_reauth_does_not_end_with_time(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)
    make_account(name="a", reauth_reason="credential rejected")

    time_machine.move_to(NOW + timedelta(days=30), tick=False)

    assert state_of("a") == HealthState.NEEDS_REAUTH


@pytest.mark.django_db
def test_paused_exits_on_resume() -> None:
    make_account(name="a", paused=True)
    assert state_of("a") == HealthState.PAUSED

    lifecycle.resume_account(name="a")

    assert state_of("a") == HealthState.OK


def test_token_status_in_words() -> None:
    api_key = Account(kind=Account.Kind.API_KEY)
    valid = Account(kind=Account.Kind.OAUTH, expires_at=LATER)
    expired = Account(kind=Account.Kind.OAUTH, expires_at=NOW)
    long_lived = Account(kind=Account.Kind.SETUP_TOKEN)

    assert [a.token_status(NOW) for a in (api_key, valid, expired, long_lived)] == [
        "-",
        "valid",
        "expired",
        "long-lived",
    ]
