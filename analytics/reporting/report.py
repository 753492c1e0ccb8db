"""The analytics report behind GET /api/analytics (docs/api.md), portable across databases.

Buckets come from TruncMinute/TruncHour/TruncDay in UTC (on SQLite, the stored text's
prefix: `_TextPrefix`); 5-minute buckets merge minute groups in Python. Every group
carries sums and counts rather than averages (`aggregates.SUMS`), so merging and
running totals stay exact: the totals are the per-model groups added up (`model_groups`,
one pass for the totals and the three per-model tables), read as /api/stats reads its
own (`aggregates.totals_of`). The p95 is nearest rank, read with one ORDER BY ... OFFSET
per model.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from accounts.models import Account
from analytics.models import Request
from analytics.reporting import aggregates, key_report
from analytics.reporting.aggregates import NO_ACCOUNT, SUMS


class _TextPrefix:
    """On SQLite, a bucket is the start of the stored text, not Django's truncation.

    Django truncates there with django_datetime_trunc, a Python function called per row:
    half of a report's time with 75,000 requests in the window. SQLite keeps a datetime
    as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff', whose first 16, 13 or 10 characters are
    its minute, hour or day; the padding makes that a datetime again.
    """

    prefix: ClassVar[tuple[int, str]]
    lhs: Any  # the truncated expression (Transform's)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        sql, params = compiler.compile(self.lhs)
        length, padding = self.prefix
        return f"(substr({sql}, 1, {length}) || '{padding}')", list(params)


class MinuteBucket(_TextPrefix, TruncMinute):
    prefix = (16, ":00")


class HourBucket(_TextPrefix, TruncHour):
    prefix = (13, ":00:00")


class DayBucket(_TextPrefix, TruncDay):
    prefix = (10, " 00:00:00")


# range -> (window, bucket label, bucket length, database truncation)
RANGES = {
    "1h": (timedelta(hours=1), "1m", timedelta(minutes=1), MinuteBucket),
    "6h": (timedelta(hours=6), "5m", timedelta(minutes=5), MinuteBucket),
    "24h": (timedelta(hours=24), "1h", timedelta(hours=1), HourBucket),
    "7d": (timedelta(days=7), "1h", timedelta(hours=1), HourBucket),
    "30d": (timedelta(days=30), "1d", timedelta(days=1), DayBucket),
}


@dataclass(frozen=True, slots=True)
class Filters:
    range: str = "24h"
    accounts: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    status: str = "all"
    cumulative: bool = False
    model_breakdown: bool = False
    # Client key names; `no_key` for requests sent without one.
    client_keys: list[str] = field(default_factory=list)


def build(filters: Filters, *, now: datetime | None = None) -> dict:
    """The whole report for these filters, as of `now`."""
    rows = filtered(filters, now=now or timezone.now())
    window, bucket, _, _ = RANGES[filters.range]
    models = model_groups(rows)
    overall = aggregates.totals_of({name: sum(g[name] or 0 for g in models) for name in SUMS})
    named = sorted((g for g in models if g["model"] is not None), key=_most_requests)
    accounts = aggregates.account_counts(rows)
    return {
        "meta": {"range": filters.range, "bucket": bucket, "cumulative": filters.cumulative},
        "totals": totals(overall, accounts),
        "timeSeries": time_series(rows, filters),
        "tokenBreakdown": token_breakdown(overall),
        "modelDistribution": model_distribution(named),
        "accountPerformance": account_performance(accounts),
        "costByModel": cost_by_model(named),
        "modelPerformance": model_performance(rows, named),
        "keyUsage": key_report.breakdown(rows),
    }


def filtered(filters: Filters, *, now: datetime) -> QuerySet:
    """Requests in the window matching every filter (as ccflare: timestamp > now - window)."""
    window = RANGES[filters.range][0]
    rows = Request.objects.filter(timestamp__gt=now - window).order_by()
    if filters.accounts:
        ids = Account.objects.filter(name__in=filters.accounts).values_list("pk", flat=True)
        match = Q(account_id__in=list(ids))
        if NO_ACCOUNT in filters.accounts:
            match |= Q(account_id=None)
        rows = rows.filter(match)
    if filters.models:
        rows = rows.filter(model__in=filters.models)
    if filters.status != "all":
        rows = rows.filter(success=filters.status == "success")
    return key_report.key_filter(rows, filters.client_keys)


def totals(overall: aggregates.Totals, accounts: list[aggregates.AccountCount]) -> dict:
    """The report's totals: `overall` unrounded, and how many accounts served the rows
    (`no_account` counting as one, as a DISTINCT over the column does)."""
    return {
        "requests": overall.requests,
        "successRate": overall.success_rate,
        "activeAccounts": len(accounts),
        "avgResponseTime": overall.avg_response_time_ms or 0,
        "totalTokens": overall.tokens,
        "totalCostUsd": overall.cost_usd,
        "avgTokensPerSecond": overall.avg_tokens_per_second,
        # Extension: requests whose cost totalCostUsd leaves out (their model has no price).
        "unpricedRequests": overall.unpriced_requests,
    }


def time_series(rows: QuerySet, filters: Filters) -> list[dict]:
    """One point per non-empty bucket (and model, with the breakdown), oldest first."""
    _, _, length, trunc = RANGES[filters.range]
    # In UTC on every database: buckets are floored on the epoch (_floor).
    columns: dict[str, Any] = {"bucket": trunc("timestamp", tzinfo=UTC)}
    if filters.model_breakdown:
        rows = rows.exclude(model=None)
        columns["series"] = aggregates.Unindexed("model")  # grouped on first otherwise
    groups = rows.values(**columns).annotate(**SUMS)
    merged: dict[tuple, dict] = {}
    for group in groups:
        start = _floor(group["bucket"], length)
        key = (start, group.get("series"))
        if key in merged:
            _add(merged[key], group)
        else:
            merged[key] = dict(group)
    ordered = sorted(merged.items(), key=lambda item: (item[0][0], item[0][1] or ""))
    points = [_point(start, model, sums, filters) for (start, model), sums in ordered]
    if filters.cumulative:
        _accumulate(points)
    return points


def _point(start: datetime, model: str | None, sums: dict, filters: Filters) -> dict:
    prompt = (sums["input"] or 0) + (sums["cache_read"] or 0) + (sums["cache_creation"] or 0)
    point: dict[str, Any] = {"ts": int(start.timestamp() * 1000)}
    if filters.model_breakdown:
        point["model"] = model
    point.update(
        requests=sums["requests"],
        tokens=sums["tokens"] or 0,
        costUsd=float(sums["cost"] or 0),
        successRate=aggregates.pct(sums["successes"], sums["requests"]),
        errorRate=aggregates.pct(sums["requests"] - sums["successes"], sums["requests"]),
        cacheHitRate=aggregates.pct(sums["cache_read"] or 0, prompt),
        avgResponseTime=aggregates.mean(sums["rt_sum"], sums["rt_count"]) or 0,
        avgTokensPerSecond=aggregates.mean(sums["tps_sum"], sums["tps_count"]),
    )
    return point


def _accumulate(points: list[dict]) -> None:
    """Running totals of requests, tokens and cost, per model with the breakdown."""
    running: dict[str | None, dict] = {}
    for point in points:
        total = running.setdefault(point.get("model"), {"requests": 0, "tokens": 0, "costUsd": 0})
        for name in total:
            total[name] += point[name]
            point[name] = total[name]


def token_breakdown(overall: aggregates.Totals) -> dict:
    return {
        "inputTokens": overall.input_tokens,
        "cacheReadInputTokens": overall.cache_read_tokens,
        "cacheCreationInputTokens": overall.cache_creation_tokens,
        "outputTokens": overall.output_tokens,
    }


def model_groups(rows: QuerySet) -> list[dict]:
    """Per model (no model too), in one pass over the rows: `SUMS`, the output speed's
    range, and the sums of the priced requests (cost above 0). The totals, the model
    distribution, the cost and the performance per model are all read from these.
    """
    priced = Q(cost_usd__gt=0)
    return aggregates.grouped(
        rows,
        "model",
        whole_history=False,
        **SUMS,
        tps_min=Min("output_tokens_per_second", filter=Q(output_tokens_per_second__gt=0)),
        tps_max=Max("output_tokens_per_second"),
        priced_cost=Sum("cost_usd", filter=priced),
        priced_requests=Count("id", filter=priced),
        priced_tokens=Sum("total_tokens", filter=priced),
    )


def _most_requests(group: dict) -> tuple:
    return (-group["requests"], group["model"])


def model_distribution(named: list[dict]) -> list[dict]:
    return [{"model": g["model"], "count": g["requests"]} for g in named[:10]]


def account_performance(accounts: list[aggregates.AccountCount]) -> list[dict]:
    return [
        {"name": c.name, "requests": c.requests, "successRate": c.success_rate} for c in accounts
    ]


def cost_by_model(named: list[dict]) -> list[dict]:
    """The 10 models that cost most, over their priced requests only."""
    priced = [g for g in named if g["priced_requests"]]
    priced.sort(key=lambda g: (-g["priced_cost"], g["model"]))
    return [
        {
            "model": g["model"],
            "costUsd": float(g["priced_cost"]),
            "requests": g["priced_requests"],
            "totalTokens": g["priced_tokens"] or 0,
        }
        for g in priced[:10]
    ]


def model_performance(rows: QuerySet, named: list[dict]) -> list[dict]:
    """Top 10 models by requests: latency (avg, p95), error rate, output speed."""
    return [_model_item(rows, g) for g in named[:10]]


def _model_item(rows: QuerySet, group: dict) -> dict:
    avg = aggregates.mean(group["rt_sum"], group["rt_count"]) or 0
    p95 = p95_response_time(rows.filter(model=group["model"]), count=group["rt_count"])
    return {
        "model": group["model"],
        "avgResponseTime": avg,
        "p95ResponseTime": avg if p95 is None else p95,
        "errorRate": aggregates.pct(group["requests"] - group["successes"], group["requests"]),
        "avgTokensPerSecond": aggregates.mean(group["tps_sum"], group["tps_count"]),
        "minTokensPerSecond": group["tps_min"],
        "maxTokensPerSecond": group["tps_max"],
    }


def p95_response_time(rows: QuerySet, *, count: int) -> int | None:
    """Nearest rank: the value at position ceil(0.95 n) of the sorted response times."""
    if count == 0:
        return None
    index = math.ceil(0.95 * count) - 1
    timed = rows.exclude(response_time_ms=None).order_by("response_time_ms")
    return timed.values_list("response_time_ms", flat=True)[index]


def _floor(moment: datetime, length: timedelta) -> datetime:
    """Bucket start: floor(timestamp / bucket) x bucket, on the epoch (UTC)."""
    seconds = int(length.total_seconds())
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=moment.tzinfo)


def _add(into: dict, group: dict) -> None:
    for name in SUMS:
        into[name] = (into[name] or 0) + (group[name] or 0)
