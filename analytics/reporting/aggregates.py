"""The aggregates /api/stats, /api/analytics, the `stats` command and the dashboard share.

One computation each, so the endpoints cannot drift: `totals` (requests, success
rate, tokens, cost, average response time and output speed), `model_counts`
(requests per model) and `account_counts` (requests and successes per account).
Callers pick the rows (all history, or the report's filtered window) and the
rounding their JSON shape promises (docs/api.md). Averages are sums over counts of
non-null values, so groups can be merged and accumulated exactly (`SUMS`).
"""

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Func, Q, QuerySet, Sum

from accounts.models import Account

# Requests that went through with the client's own credentials (no account).
NO_ACCOUNT = "no_account"

# What every total, bucket and per-model row sums; the rates are derived from these.
SUMS = {
    "requests": Count("id"),
    "successes": Count("id", filter=Q(success=True)),
    "tokens": Sum("total_tokens"),
    "cost": Sum("cost_usd"),
    "input": Sum("input_tokens"),
    "cache_read": Sum("cache_read_input_tokens"),
    "cache_creation": Sum("cache_creation_input_tokens"),
    "output": Sum("output_tokens"),
    "rt_sum": Sum("response_time_ms"),
    "rt_count": Count("response_time_ms"),
    "tps_sum": Sum("output_tokens_per_second"),
    "tps_count": Count("output_tokens_per_second"),
    # Requests whose model had no price: their cost is not in `cost` (never counted as $0).
    "unpriced": Count("id", filter=Q(unpriced=True)),
}


class Unindexed(Func):
    """A column as it is, grouped on without an index (SQLite: `+column`).

    Grouped by a bare column, SQLite (without statistics, as it runs here) reads the rows
    in the order of the index that starts with it (request_key_ts, request_account_ts,
    request_model_ts) to spare a sort, and so reads the whole history to keep a window's
    rows: 0.6-0.8 s a query with 1.5 million requests, whether the window held 200 rows
    or 200,000. `+` changes no value and matches no index: the window comes from
    request_timestamp and its rows are sorted into groups (about 100 bytes a row while
    the query runs). PostgreSQL's planner weighs the two plans itself.
    """

    template = "%(expressions)s"

    def __init__(self, column: str) -> None:
        super().__init__(F(column))

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"+{sql}", list(params)


def grouped(rows: QuerySet, column: str, *, whole_history: bool, **sums: Any) -> list[dict]:
    """`sums` of `rows` per value of `column` (under its name).

    A window's rows are grouped as `Unindexed` says; the whole history in the index's
    order, which reads every row anyway and sorts none (a sort of 1.4 million rows took
    146 MB in memory, and would write as much to a temporary file now, settings.py).
    """
    if whole_history:
        return list(rows.order_by().values(column).annotate(**sums))
    groups = rows.order_by().values(group=Unindexed(column)).annotate(**sums)
    return [{column: group.pop("group"), **group} for group in groups]


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int
    successes: int
    tokens: int
    cost_usd: float
    input_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    output_tokens: int
    # Over the requests that have one; None when none has.
    avg_response_time_ms: float | None
    avg_tokens_per_second: float | None
    # Not in cost_usd: their model had no price when they were recorded.
    unpriced_requests: int = 0

    @property
    def success_rate(self) -> float:
        """A percentage, not rounded; 0 with no requests."""
        return pct(self.successes, self.requests)


def totals(rows: QuerySet) -> Totals:
    """The totals of `rows` (requests), in one aggregate query."""
    return totals_of(rows.aggregate(**SUMS))


def totals_of(agg: dict) -> Totals:
    """The totals of one set of `SUMS` (an aggregate, or groups added up)."""
    return Totals(
        requests=agg["requests"],
        successes=agg["successes"],
        tokens=agg["tokens"] or 0,
        cost_usd=float(agg["cost"] or 0),
        input_tokens=agg["input"] or 0,
        cache_read_tokens=agg["cache_read"] or 0,
        cache_creation_tokens=agg["cache_creation"] or 0,
        output_tokens=agg["output"] or 0,
        avg_response_time_ms=mean(agg["rt_sum"], agg["rt_count"]),
        avg_tokens_per_second=mean(agg["tps_sum"], agg["tps_count"]),
        unpriced_requests=agg["unpriced"] or 0,
    )


def model_counts(rows: QuerySet, *, limit: int) -> list[tuple[str, int]]:
    """`(model, requests)` of the `limit` most used models, most first, then by name."""
    # COUNT(*), not of a column: SQLite then reads the (model, timestamp) index alone.
    groups = rows.exclude(model=None).values("model").annotate(count=Count("*"))
    return [(g["model"], g["count"]) for g in groups.order_by("-count", "model")[:limit]]


@dataclass(frozen=True, slots=True)
class AccountCount:
    name: str
    # None for `no_account` and for a deleted account.
    account: Account | None
    requests: int
    successes: int

    @property
    def success_rate(self) -> float:
        return pct(self.successes, self.requests)


def account_counts(rows: QuerySet, *, whole_history: bool = False) -> list[AccountCount]:
    """Requests per account in `rows` (a window's, or `whole_history`), most first, then
    by name (two queries)."""
    groups = grouped(
        rows,
        "account_id",
        whole_history=whole_history,
        requests=Count("id"),
        successes=Count("id", filter=Q(success=True)),
    )
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=[g["account_id"] for g in groups])}
    counts = [
        AccountCount(
            name=account_name(g["account_id"], accounts),
            account=accounts.get(g["account_id"]),
            requests=g["requests"],
            successes=g["successes"],
        )
        for g in groups
    ]
    return sorted(counts, key=lambda c: (-c.requests, c.name))


def account_name(account_id: uuid.UUID | None, accounts: dict) -> str:
    """The account's name; `no_account` for none, the raw id for a deleted account."""
    if account_id is None:
        return NO_ACCOUNT
    account = accounts.get(account_id)
    return account.name if account else str(account_id)


def pct(part: float, whole: float) -> float:
    return part * 100 / whole if whole else 0


def mean(total: float | None, count: int) -> float | None:
    return float(total) / count if count and total is not None else None
