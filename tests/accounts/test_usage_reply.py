"""The usage endpoint's two reply shapes (docs/routing.md), and odd replies that cannot break it."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.usage_reply import UsageReport, Window, parse

RESET = "2026-11-24T17:00:00+00:00"
WHEN = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)

FLAT = {
    "five_hour": {"utilization": 42.0, "resets_at": RESET},
    "seven_day": {"utilization": 10, "resets_at": "2026-11-28T09:00:00.123456+01:00"},
    "seven_day_oauth_apps": None,
    "seven_day_opus": {"utilization": 88.5, "resets_at": RESET},
    "seven_day_sonnet": None,
    "seven_day_fable": {"utilization": 5, "resets_at": None},
    "extra_usage": {"is_enabled": True, "monthly_limit": 5000, "utilization": 12.5},
    "some_future_key": {"utilization": 99},
}

LIMITS = {
    "limits": [
        {
            "kind": "session",
            "group": "session",
            "percent": 42,
            "severity": "normal",
            "resets_at": RESET,
            "scope": None,
            "is_active": True,
        },
        {"kind": "weekly_all", "percent": 10.5, "resets_at": RESET, "severity": "normal"},
        {
            "kind": "weekly_scoped",
            "percent": 91,
            "severity": "critical",
            "resets_at": RESET,
            "scope": {"model": {"display_name": "Opus"}},
            "is_active": False,
        },
        {
            "kind": "weekly_scoped",
            "percent": 3,
            "resets_at": RESET,
            "scope": {"model": {"display_name": "Claude Fable 5"}},
        },
    ],
    "spend": {"is_enabled": False},
}


def test_flat_shape_gives_fractions_and_per_model_windows() -> None:
    report = parse(FLAT)

    assert report.five_hour == Window(0.42, WHEN)
    assert report.seven_day == Window(
        0.10, datetime(2026, 11, 28, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    )
    # seven_day_oauth_apps is no model family; nulls and unknown keys are skipped.
    assert report.models == {"opus": Window(0.885, WHEN), "fable": Window(0.05, None)}


def test_limits_shape_names_families_from_the_scope() -> None:
    report = parse(LIMITS)

    assert report.five_hour == Window(0.42, WHEN)
    assert report.seven_day == Window(0.105, WHEN)
    assert report.models == {"opus": Window(0.91, WHEN), "fable": Window(0.03, WHEN)}


def test_limits_win_over_the_flat_keys_when_both_are_sent() -> None:
    report = parse({**FLAT, **LIMITS})

    assert report.models == {"opus": Window(0.91, WHEN), "fable": Window(0.03, WHEN)}
    assert report.seven_day == Window(0.105, WHEN)


def test_limits_that_say_nothing_fall_back_to_the_flat_keys() -> None:
    report = parse({**FLAT, "limits": [{"kind": "session", "percent": "lots"}]})

    assert report.five_hour == Window(0.42, WHEN)


def test_two_entries_for_one_window_keep_the_fuller() -> None:
    limits = [
        {"kind": "session", "percent": 20, "resets_at": RESET},
        {"kind": "session", "percent": 70, "resets_at": RESET},
        {"kind": "session", "percent": 30, "resets_at": RESET},
    ]

    assert parse({"limits": limits}).five_hour == Window(0.7, WHEN)


def test_unknown_display_name_becomes_a_short_slug() -> None:
    entry = {
        "kind": "weekly_scoped",
        "percent": 50,
        "scope": {"model": {"display_name": "Nova X!"}},
    }

    assert parse({"limits": [entry]}).models == {"nova_x": Window(0.5, None)}


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "limits",
        42,
        {},
        {"limits": "nope"},
        {"limits": [None, 1, "x", [], {"kind": None, "percent": 5}]},
        {"limits": [{"kind": "weekly_scoped", "percent": 5, "scope": {"model": "Opus"}}]},
        {"five_hour": None, "seven_day": None},
        {"five_hour": {"utilization": "12"}, "seven_day": {"resets_at": RESET}},
        {"five_hour": {"utilization": True}},
        {"five_hour": {"utilization": float("nan")}, "seven_day": {"utilization": float("inf")}},
        {"five_hour": [42, RESET], 7: {"utilization": 1}},
        {"five_hour": {"utilization": 10**400}},  # raised OverflowError: a 500 on the check
    ],
)
def test_replies_without_a_readable_window_give_an_empty_report(body: Any) -> None:
    assert parse(body) == UsageReport()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-24T17:00:00Z", WHEN),
        ("2026-11-24T17:00:00", WHEN),  # no offset: UTC
        ("tomorrow", None),
        ("", None),
        (1_700_000_000, None),
        ({"at": RESET}, None),
    ],
)
def test_reset_times_that_cannot_be_read_are_none(raw: Any, expected: datetime | None) -> None:
    assert parse({"five_hour": {"utilization": 1, "resets_at": raw}}).five_hour == Window(
        0.01, expected
    )


@pytest.mark.parametrize(("percent", "fraction"), [(-5, 0.0), (0, 0.0), (100, 1.0), (250, 1.0)])
def test_percentages_are_clamped_to_a_fraction(percent: float, fraction: float) -> None:
    assert parse({"limits": [{"kind": "session", "percent": percent}]}).five_hour == Window(
        fraction, None
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "limits",
                    "five_hour",
                    "seven_day",
                    "seven_day_opus",
                    "kind",
                    "percent",
                    "utilization",
                    "resets_at",
                    "scope",
                    "model",
                    "display_name",
                    "x",
                ]
            )
            | st.text(max_size=10),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@given(json_values)
def test_any_json_reply_parses_without_raising(body: Any) -> None:
    report = parse(body)

    windows = [report.five_hour, report.seven_day, *report.models.values()]
    assert all(0.0 <= w.utilization <= 1.0 for w in windows if w is not None)
