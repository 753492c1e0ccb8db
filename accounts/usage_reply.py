"""Reading the OAuth usage endpoint's reply (docs/routing.md) into windows: both shapes, no raise.

Two shapes are in the wild: the older flat one (`five_hour`, `seven_day`, `seven_day_opus`,
... each null or `{utilization: 0-100, resets_at}`) and the 2026 `limits` array (`{kind:
session|weekly_all|weekly_scoped, percent, resets_at, scope.model.display_name}`). Per-model
caps may exist only in `limits`, so it wins when it says anything. Anything unknown or
malformed is skipped, not an error: the endpoint adds keys from time to time.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from accounts import health
from lib.numbers import finite_number


@dataclass(frozen=True, slots=True)
class Window:
    """One window's use, as a 0..1 fraction like the rate-limit headers give it."""

    utilization: float
    resets_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "utilization": self.utilization,
            "resets_at": self.resets_at.isoformat() if self.resets_at else None,
        }


@dataclass(frozen=True, slots=True)
class UsageReport:
    five_hour: Window | None = None
    seven_day: Window | None = None
    # Per-model weekly caps by family ("opus", "sonnet", ...).
    models: dict[str, Window] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.five_hour is None and self.seven_day is None and not self.models


def parse(body: Any) -> UsageReport:
    """The windows in a decoded JSON reply; an empty report when it holds none."""
    if not isinstance(body, dict):
        return UsageReport()
    limits = body.get("limits")
    if isinstance(limits, list):
        report = _from_limits(limits)
        if not report.empty:
            return report
    return _from_flat(body)


def stored_models(raw: Any) -> dict[str, Window]:
    """The per-model windows as Account.model_windows keeps them (Window.as_json), by family.

    Entries that are not such a window are skipped: the field is JSON anyone could edit.
    """
    if not isinstance(raw, dict):
        return {}
    found = {}
    for family, entry in sorted(raw.items()):
        if isinstance(entry, dict):
            utilization = entry.get("utilization")
            if finite_number(utilization):
                found[family] = Window(utilization, _moment(entry.get("resets_at")))
    return found


_LIMIT_KINDS = {"session": "five_hour", "weekly_all": "seven_day"}


def _from_limits(entries: list[Any]) -> UsageReport:
    found: dict[str, Window] = {}
    models: dict[str, Window] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        window = _window(entry.get("percent"), entry.get("resets_at"))
        kind = entry.get("kind")
        if window is None or not isinstance(kind, str):
            continue
        if kind in _LIMIT_KINDS:
            _keep_fuller(found, _LIMIT_KINDS[kind], window)
        elif kind == "weekly_scoped":
            family = _scope_family(entry.get("scope"))
            if family:
                _keep_fuller(models, family, window)
    return UsageReport(found.get("five_hour"), found.get("seven_day"), models)


def _from_flat(body: dict[str, Any]) -> UsageReport:
    models: dict[str, Window] = {}
    for key, value in body.items():
        family = health.claim_family(key) if isinstance(key, str) else None
        window = _flat_window(value)
        if family and window is not None:
            models[family] = window
    return UsageReport(
        _flat_window(body.get("five_hour")), _flat_window(body.get("seven_day")), models
    )


def _flat_window(value: Any) -> Window | None:
    if not isinstance(value, dict):
        return None
    return _window(value.get("utilization"), value.get("resets_at"))


def _keep_fuller(found: dict[str, Window], key: str, window: Window) -> None:
    # Two entries for one window: the fuller one is the one that binds first.
    if key not in found or window.utilization > found[key].utilization:
        found[key] = window


_SLUG = re.compile(r"[^a-z0-9]+")


def _scope_family(scope: Any) -> str | None:
    """'opus' for {"model": {"display_name": "Opus"}}; an unknown name as a short slug."""
    model = scope.get("model") if isinstance(scope, dict) else None
    name = model.get("display_name") if isinstance(model, dict) else None
    if not isinstance(name, str):
        return None
    slug = _SLUG.sub("_", name.lower()).strip("_")[:32]
    return health.model_family(name) or slug or None


def _window(percent: Any, resets_at: Any) -> Window | None:
    """A window from a 0-100 percentage; None when the percentage is not a number."""
    if not finite_number(percent):
        return None
    return Window(min(max(percent / 100, 0.0), 1.0), _moment(resets_at))


def _moment(raw: Any) -> datetime | None:
    """An ISO-8601 time (UTC when it names no offset), or None."""
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
