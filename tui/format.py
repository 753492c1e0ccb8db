"""How numbers, times and windows read in the TUI: pure functions, no widgets.

Each takes what the API sent as it is: a value of an unexpected type (a string where a
number belongs, say, from a newer or broken server) reads as missing, never as an error.
"""

from datetime import UTC, datetime

from rich.text import Text

from lib.numbers import finite_number

BAR_WIDTH = 12
# Over these a window bar turns yellow, then red.
WARN_AT, FULL_AT = 0.7, 0.9
# Free text in a table column (an account's name, a model) at most this wide, cut with an
# ellipsis: names run to 100 characters and clients pick any model string, and one such
# value pushed every other column off the screen. A full model name (Analytics) gets more:
# claude-3-5-sonnet-20241022 is 26.
NAME_WIDTH, MODEL_WIDTH = 24, 32


def cut(text: Text, width: int = NAME_WIDTH) -> Text:
    """A copy of the text no wider than `width` cells, its end cut to an ellipsis."""
    text = text.copy()
    text.truncate(width, overflow="ellipsis")
    return text


def name(value: object) -> Text:
    """A name (an account's, a model's) for a table cell: as text, never markup, cut to
    NAME_WIDTH."""
    return cut(Text(str(value) if value else "—"))


def number(value: object) -> int | float | None:
    """The value if it is a finite number (a bool is not one), else None."""
    return value if finite_number(value) else None


def count(value: object) -> str:
    """1234 -> 1.2k, 2_500_000 -> 2.5M; None (or not a number) -> an em dash."""
    if (value := number(value)) is None:
        return "—"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def cost(value: object) -> str:
    if (value := number(value)) is None:
        return "—"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def total_cost(totals: dict) -> str:
    """A report's cost, and how many requests it leaves out for want of a price."""
    unpriced = number(totals.get("unpricedRequests"))
    extra = f" + {int(unpriced)} unpriced" if unpriced else ""
    return cost(totals.get("totalCostUsd")) + extra


def percent(value: object) -> str:
    return "—" if (value := number(value)) is None else f"{value:.1f}%"


def millis(value: object) -> str:
    if (value := number(value)) is None:
        return "—"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def speed(value: object) -> str:
    return "—" if (value := number(value)) is None else f"{value:.1f} tok/s"


def parse_time(value: object) -> datetime | None:
    """An ISO time, or epoch milliseconds (the live stream's `start` events), as a datetime."""
    if (millis := number(value)) is not None:
        try:
            return datetime.fromtimestamp(millis / 1000, tz=UTC)
        except (ValueError, OverflowError, OSError):  # out of datetime's range, or NaN
            return None
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def until(value: object, *, now: datetime | None = None) -> str:
    """How long until an ISO time, as `2h13m` or `4d3h`; empty when unknown or past."""
    when = parse_time(value)
    if when is None:
        return ""
    seconds = int((when - (now or datetime.now(UTC))).total_seconds())
    if seconds <= 0:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d{hours}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def clock(value: object) -> str:
    """An ISO time as the local HH:MM:SS (the day too when it is not today)."""
    when = parse_time(value)
    if when is None:
        return "—"
    local = when.astimezone()
    today = datetime.now().astimezone().date()
    return local.strftime("%H:%M:%S" if local.date() == today else "%m-%d %H:%M")


def window_bar(utilization: object, reset: object, *, width: int = BAR_WIDTH) -> Text:
    """A usage window (0..1) as a coloured bar, its percentage and the time to its reset."""
    if (utilization := number(utilization)) is None or utilization != utilization:  # NaN
        return Text("no data", style="dim")
    share = min(max(utilization, 0.0), 1.0)
    filled = round(share * width)
    style = "red" if share >= FULL_AT else "yellow" if share >= WARN_AT else "green"
    bar = Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")
    bar.append(f" {share * 100:3.0f}%")
    left = until(reset)
    if left:
        bar.append(f" ↻{left}", style="dim")
    return bar


HEALTH_STYLES = {"ok": "green", "paused": "dim", "rate_limited": "yellow", "cooling_down": "yellow"}


def health(account: dict) -> Text:
    """The account's health state, coloured, with its reason when it cannot serve."""
    health = account.get("health")
    if not isinstance(health, dict):
        return Text("—", style="dim")
    state = str(health.get("state") or "unknown")
    reason = str(health.get("reason") or "")
    text = Text(state.replace("_", " "), style=HEALTH_STYLES.get(state, "red"))
    if reason and state != "ok":
        text.append(f" ({reason})", style="dim")
    return text


def status(code: object, *, in_flight: bool = False) -> Text:
    if in_flight:
        return Text("…", style="cyan")
    if (code := number(code)) is None:
        return Text("—", style="dim")
    return Text(str(code), style="green" if code < 400 else "red")
