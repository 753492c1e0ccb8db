"""Client keys' recorded use over rolling windows: what the proxy's budgets count.

Budgets count a key's requests that went through (a request the proxy refused itself,
a budget's own 429 included, spends nothing and is not counted). These run in the
proxy's budget refresh (proxy/budgets.py), about once a second, never per request.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Count, Min, QuerySet, Sum

from accounts.models import Account
from analytics.models import Request
from analytics.reporting.aggregates import grouped

# The column each budget metric adds up (requests count rows).
METRIC_COLUMN = {"tokens": "total_tokens", "cost": "cost_usd"}


# The accounts' fields that measure each of Anthropic's windows: (utilisation, reset).
POOL_FIELDS = {
    "5h": ("five_hour_utilization", "five_hour_reset"),
    "7d": ("seven_day_utilization", "seven_day_reset"),
}


@dataclass(frozen=True, slots=True)
class Utilisation:
    mean: float  # 0..1 over every account
    reset: float | None  # the earliest reset (epoch) of an account with use in the window


@dataclass(frozen=True, slots=True)
class Tally:
    requests: int = 0
    tokens: int = 0
    cost: float = 0.0
    first: float | None = None  # the oldest counted request's start (epoch seconds)

    def get(self, metric: str) -> float:
        return float(getattr(self, metric))

    def __add__(self, other: "Tally") -> "Tally":
        firsts = [t for t in (self.first, other.first) if t is not None]
        return Tally(
            self.requests + other.requests,
            self.tokens + other.tokens,
            self.cost + other.cost,
            min(firsts) if firsts else None,
        )


# Key -> its tally; None is the requests sent without a key.
Tallies = dict[int | None, Tally]


def counted(since: float, until: float | None = None) -> QuerySet:
    """The rows budgets count, from `since` (epoch seconds) on, before `until` if given."""
    rows = Request.objects.filter(timestamp__gte=_moment(since))
    if until is not None:
        rows = rows.filter(timestamp__lt=_moment(until))
    return rows.exclude(terminal_state=Request.Terminal.REJECTED)


def tallies(key_ids: list[int] | None, *, since: float, until: float | None = None) -> Tallies:
    """Each key's requests, tokens and cost in [since, until), in one query; every key
    (and None, no key) when `key_ids` is None."""
    rows = counted(since, until)
    if key_ids is not None:
        rows = rows.filter(client_key_id__in=key_ids)
    groups = grouped(
        rows,
        "client_key_id",
        whole_history=False,
        requests=Count("id"),
        tokens=Sum("total_tokens"),
        cost=Sum("cost_usd"),
        first=Min("timestamp"),
    )
    return {
        g["client_key_id"]: Tally(
            g["requests"], g["tokens"] or 0, float(g["cost"] or 0), g["first"].timestamp()
        )
        for g in groups
    }


def merged(*parts: Tallies) -> Tallies:
    total: Tallies = {}
    for part in parts:
        for key_id, tally in part.items():
            total[key_id] = total.get(key_id, Tally()) + tally
    return total


def pool_parts(every_key: Tallies) -> dict[int | None, float]:
    """Each key's part (0..1) of everything the pool served (`every_key`: all keys' tallies).

    Weighed by cost, which follows what Anthropic's windows charge (an Opus token
    weighs more than a Haiku one); by tokens when nothing in the window is priced.
    Requests without a key (None) are part of the whole too.
    """
    weight = "cost" if any(t.cost for t in every_key.values()) else "tokens"
    total = sum(t.get(weight) for t in every_key.values())
    if not total:
        return {}
    return {key_id: t.get(weight) / total for key_id, t in every_key.items()}


def pool_utilisation(accounts: list[Account], *, now: float) -> dict[str, Utilisation]:
    """The pool's mean use of its 5h and 7d windows (0..1), from the accounts' last readings.

    An account whose window has reset since its last reading counts as empty, as does
    one never read: all its capacity is there.
    """
    result = {}
    for window, (used_field, reset_field) in POOL_FIELDS.items():
        readings, resets = [], []
        for account in accounts:
            reset = getattr(account, reset_field)
            value = getattr(account, used_field) or 0.0
            live = reset is None or reset.timestamp() > now
            readings.append(min(max(value, 0.0), 1.0) if live else 0.0)
            if live and reset is not None and value > 0:
                resets.append(reset.timestamp())
        mean = sum(readings) / len(readings) if readings else 0.0
        result[window] = Utilisation(mean, min(resets) if resets else None)
    return result


def pool_shares(utilisation: Utilisation, every_key: Tallies) -> dict[int | None, float]:
    """Each key's share of the pool's window in percent: its part of the use times the use."""
    parts = pool_parts(every_key)
    return {key_id: 100.0 * utilisation.mean * part for key_id, part in parts.items()}


def written(ids: list[str]) -> set[str]:
    """Which of these request ids are recorded already (a query per 500: under load a
    second's worth of requests can outnumber what one query may bind)."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = Request.objects.filter(id__in=ids[start : start + 500])
        found.update(str(pk) for pk in chunk.values_list("id", flat=True))
    return found


def free_at(
    key_id: int, metric: str, *, since: float, excess: float, window: float
) -> float | None:
    """When enough of the key's counted rows leave the window to free `excess`.

    Walks the window's rows oldest first; None when the recorded rows alone never
    free that much (the rest is in requests not written yet).
    """
    rows = counted(since).filter(client_key_id=key_id).order_by("timestamp")
    freed = 0.0
    column = METRIC_COLUMN.get(metric)
    values = (
        rows.values_list("timestamp", column) if column else rows.values_list("timestamp", "pk")
    )
    for timestamp, value in values.iterator(chunk_size=500):
        freed += float(value or 0) if column else 1.0
        if freed >= excess:
            return timestamp.timestamp() + window
    return None


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
