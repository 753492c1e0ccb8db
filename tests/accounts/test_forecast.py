"""The 5-hour window forecast: when it fills at the recent pace, from polls and headers."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from accounts import forecast
from accounts.forecast import Sample

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RESET = NOW + timedelta(hours=3)


def at(minutes_ago: float, utilization: float) -> Sample:
    return Sample(NOW - timedelta(minutes=minutes_ago), utilization)


def test_steady_burn_projects_the_moment_the_window_fills() -> None:
    # 10 points in 20 minutes; 40 points left take 80 more minutes.
    samples = [at(20, 0.50), at(10, 0.55), at(0, 0.60)]

    assert forecast.full_at(samples, now=NOW, resets_at=RESET) == NOW + timedelta(minutes=80)


def test_readings_in_any_order_give_the_same_forecast() -> None:
    samples = [at(0, 0.60), at(20, 0.50), at(10, 0.55)]

    assert forecast.full_at(samples, now=NOW, resets_at=RESET) == NOW + timedelta(minutes=80)


def test_window_that_resets_before_it_fills_has_no_forecast() -> None:
    samples = [at(20, 0.50), at(0, 0.60)]

    assert forecast.full_at(samples, now=NOW, resets_at=NOW + timedelta(minutes=79)) is None


@pytest.mark.parametrize(
    "samples",
    [
        [],
        [at(0, 0.5)],
        [at(20, 0.5), at(0, 0.5)],  # idle
        [at(20, 0.50), at(0, 0.49)],  # a dip within rounding: no growth
        [at(20, 0.60), at(0, 0.10)],  # the window reset: one reading of the new one
        [at(1, 0.5), at(0, 0.6)],  # too close together to be a pace
        [at(90, 0.1), at(60, 0.5)],  # only readings older than the lookback
    ],
)
def test_no_forecast_without_a_recent_rising_pace(samples: list[Sample]) -> None:
    assert forecast.full_at(samples, now=NOW, resets_at=RESET) is None


def test_readings_before_a_reset_are_not_part_of_the_pace() -> None:
    # 0.9 then the window reset to 0.05; the pace is only 0.05 → 0.15 over 10 minutes.
    samples = [at(25, 0.80), at(20, 0.90), at(10, 0.05), at(0, 0.15)]

    assert forecast.full_at(samples, now=NOW, resets_at=RESET) == NOW + timedelta(minutes=85)


def test_full_window_is_full_from_when_it_was_seen() -> None:
    assert forecast.full_at([at(3, 1.0)], now=NOW, resets_at=RESET) == NOW - timedelta(minutes=3)


def test_pace_uses_only_the_lookback() -> None:
    # Fast an hour ago (ignored), then 0.60 → 0.70 over the last 20 minutes.
    samples = [at(60, 0.0), at(20, 0.60), at(0, 0.70)]

    assert forecast.full_at(samples, now=NOW, resets_at=RESET) == NOW + timedelta(minutes=60)


def account(**fields: Any) -> SimpleNamespace:
    defaults = {
        "five_hour_samples": [],
        "five_hour_reset": RESET,
        "five_hour_utilization": None,
        "last_used": None,
    }
    return SimpleNamespace(**(defaults | fields))


def test_the_headers_latest_value_extends_the_polls() -> None:
    polled = [[(NOW - timedelta(minutes=20)).timestamp(), 0.50]]
    served = account(five_hour_samples=polled, five_hour_utilization=0.60, last_used=NOW)

    assert forecast.account_full_at(served, now=NOW) == NOW + timedelta(minutes=80)


def test_a_header_value_older_than_the_last_poll_is_not_a_reading() -> None:
    polled = [[(NOW - timedelta(minutes=20)).timestamp(), 0.50], [NOW.timestamp(), 0.50]]
    idle = account(
        five_hour_samples=polled,
        five_hour_utilization=0.50,
        last_used=NOW - timedelta(minutes=30),
    )

    assert forecast.readings(idle) == [at(20, 0.50), at(0, 0.50)]
    assert forecast.account_full_at(idle, now=NOW) is None


def test_stored_readings_that_are_not_readings_are_skipped() -> None:
    raw = [[NOW.timestamp(), 0.5], "x", [1], [None, 0.2], ["nan", "nan"], [1e30, 0.1], None]

    assert forecast.decode(raw) == [at(0, 0.5)]
    assert forecast.decode({"not": "a list"}) == []


def test_appended_keeps_the_newest_readings_in_order() -> None:
    raw: list = []
    for minute in range(forecast.MAX_SAMPLES + 5, 0, -1):
        raw = forecast.appended(raw, at(minute, 0.01))

    kept = forecast.decode(raw)
    assert len(kept) == forecast.MAX_SAMPLES
    assert kept == sorted(kept)
    assert kept[-1] == at(1, 0.01)
