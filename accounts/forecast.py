"""When an account's 5-hour window fills at the recent pace: a pure projection from readings.

The readings are the usage polls (accounts.usage_check keeps the recent ones on the
account) plus the latest value the rate-limit headers gave while it served. The pace is
the growth between the oldest reading of the last LOOKBACK and the newest one: polls keep
coming while the account is idle, so a burst that stopped is averaged down rather than
projected for ever.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# "The current pace": long enough for a few polls, short enough to follow a change of pace.
LOOKBACK = timedelta(minutes=30)
# Two readings closer than this say nothing about a rate.
MIN_SPAN = timedelta(minutes=2)
# The endpoint rounds to whole percents and the headers do not: a dip smaller than this
# between the two is rounding, a larger one is the window resetting.
RESET_DROP = 0.02
# Readings kept on the account: an hour of polls at the default 5 minutes, with room.
MAX_SAMPLES = 24


@dataclass(frozen=True, slots=True, order=True)
class Sample:
    at: datetime
    utilization: float  # 0..1


def full_at(
    samples: Iterable[Sample], *, now: datetime, resets_at: datetime | None
) -> datetime | None:
    """When the window reaches 100% at the pace of the last LOOKBACK, or None.

    None when the window is not growing, when fewer than two readings of the current
    window span MIN_SPAN, or when the window resets before it would fill. A window
    already full gives the moment it was seen full.
    """
    recent = current_window(sorted(samples), since=now - LOOKBACK)
    if not recent:
        return None
    first, last = recent[0], recent[-1]
    if last.utilization >= 1.0:
        return last.at
    span = (last.at - first.at).total_seconds()
    growth = last.utilization - first.utilization
    if span < MIN_SPAN.total_seconds() or growth <= 0:
        return None
    full = last.at + timedelta(seconds=(1.0 - last.utilization) * span / growth)
    if resets_at is not None and full >= resets_at:
        return None
    return full


def current_window(samples: Sequence[Sample], *, since: datetime) -> list[Sample]:
    """The sorted readings since `since` of the window now open (after its last reset)."""
    run: list[Sample] = []
    for sample in samples:
        if sample.at < since:
            continue
        if run and sample.utilization < run[-1].utilization - RESET_DROP:
            run = []
        run.append(sample)
    return run


def account_full_at(account: Any, *, now: datetime) -> datetime | None:
    """full_at for an Account: its stored readings plus the latest header reading."""
    return full_at(readings(account), now=now, resets_at=account.five_hour_reset)


def readings(account: Any) -> list[Sample]:
    """The account's stored readings, and the headers' value when it is newer than them.

    The headers' value has no time of its own; it was written by the last request
    served, so `last_used` dates it.
    """
    samples = decode(account.five_hour_samples)
    latest = max((s.at for s in samples), default=None)
    used, value = account.last_used, account.five_hour_utilization
    if used is not None and value is not None and (latest is None or used > latest):
        samples.append(Sample(used, value))
    return samples


def decode(raw: Any) -> list[Sample]:
    """Readings stored as [[epoch seconds, 0..1], ...]; malformed entries are skipped."""
    samples = []
    for entry in raw if isinstance(raw, list) else []:
        try:
            at, value = float(entry[0]), float(entry[1])
            if math.isfinite(value):
                samples.append(Sample(datetime.fromtimestamp(at, tz=UTC), value))
        except (TypeError, ValueError, IndexError, KeyError, OverflowError, OSError):
            continue
    return samples


def appended(raw: Any, sample: Sample) -> list[list[float]]:
    """The stored readings with `sample` added, keeping the newest MAX_SAMPLES."""
    samples = sorted([*decode(raw), sample])[-MAX_SAMPLES:]
    return [[s.at.timestamp(), s.utilization] for s in samples]
