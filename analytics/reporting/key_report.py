"""Usage per client key for the API, the dashboard and `manage.py client_keys`.

`key_filter` narrows any set of rows to some keys (by name; `no_key` for requests sent
without one); `breakdown` is the per-key table: requests, success rate, tokens, cost,
last use and the key's share of the pool's 5-hour window right now.
"""

import time
from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet, Sum

from access.models import WINDOW_SECONDS, ClientKey, KeyBudget, describe_budget
from accounts.models import Account
from analytics.reporting import aggregates, key_usage

# Requests sent while client keys were off (or refused for want of a key).
NO_KEY = "no_key"
FIVE_HOURS = 5 * 3600


def key_filter(rows: QuerySet, names: list[str]) -> QuerySet:
    """`rows` sent with one of these keys (names; revoked keys included), or all of them."""
    if not names:
        return rows
    ids = ClientKey.objects.filter(name__in=names).values_list("pk", flat=True)
    match = Q(client_key_id__in=list(ids))
    if NO_KEY in names:
        match |= Q(client_key_id=None)
    return rows.filter(match)


def breakdown(rows: QuerySet, *, whole_history: bool = False) -> list[dict]:
    """One item per key that sent any of `rows` (a window's, or `whole_history`), most
    requests first (three queries)."""
    groups = aggregates.grouped(
        rows,
        "client_key_id",
        whole_history=whole_history,
        requests=Count("id"),
        successes=Count("id", filter=Q(success=True)),
        tokens=Sum("total_tokens"),
        cost=Sum("cost_usd"),
        unpriced=Count("id", filter=Q(unpriced=True)),
        last=Max("timestamp"),
    )
    names = dict(
        ClientKey.objects.filter(pk__in=[g["client_key_id"] for g in groups]).values_list(
            "pk", "name"
        )
    )
    shares = pool_shares_now()
    items = [_item(g, names, shares) for g in groups]
    return sorted(items, key=lambda item: (-item["requests"], item["clientKey"]))


def pool_shares_now() -> dict[int | None, float]:
    """Each key's share (percent) of the pool's 5-hour window, as budgets measure it."""
    now = time.time()
    utilisation = key_usage.pool_utilisation(list(Account.objects.all()), now=now)
    every_key = key_usage.tallies(None, since=now - FIVE_HOURS)
    return key_usage.pool_shares(utilisation["5h"], every_key)


def _item(group: dict, names: dict, shares: dict) -> dict:
    key_id = group["client_key_id"]
    name = NO_KEY if key_id is None else names.get(key_id, str(key_id))
    last: datetime | None = group["last"]
    return {
        "clientKey": name,
        "keyId": key_id,
        "requests": group["requests"],
        "successRate": aggregates.pct(group["successes"], group["requests"]),
        "tokens": group["tokens"] or 0,
        "costUsd": float(group["cost"] or 0),
        # Extension: requests whose cost costUsd leaves out (their model has no price).
        "unpricedRequests": group["unpriced"],
        "lastUsed": last.isoformat() if last else None,
        "poolShare5h": round(shares.get(key_id, 0.0), 2),
    }


def keys_with_budgets(*, name: str | None = None) -> list[dict]:
    """Live client keys (or the one named) with model rules and budgets, each with its use."""
    keys = ClientKey.objects.filter(revoked_at=None).prefetch_related("budgets").order_by("name")
    if name is not None:
        keys = keys.filter(name=name)
    keys_list = list(keys)
    now = time.time()
    shares = pool_shares_now()
    return [_key_json(key, now, shares) for key in keys_list]


def _key_json(key: ClientKey, now: float, shares: dict) -> dict:
    return {
        "id": key.pk,
        "name": key.name,
        "display": key.display,
        "createdAt": key.created_at.isoformat(),
        "lastUsed": key.last_used_at.isoformat() if key.last_used_at else None,
        "revoked": key.revoked_at is not None,
        "allowedModels": key.allowed_models,
        "deniedModels": key.denied_models,
        "poolShare5h": round(shares.get(key.pk, 0.0), 2),
        "budgets": [budget_json(b, now) for b in key.budgets.all()],
    }


def budget_json(budget: KeyBudget, now: float) -> dict:
    return {
        "metric": budget.metric,
        "window": budget.window,
        "limit": float(budget.limit),
        "description": describe_budget(budget.metric, budget.window, budget.limit),
        "used": round(budget_use(budget, now), 6),  # costs are stored to 6 places
    }


def budget_use(budget: KeyBudget, now: float) -> float:
    """The key's use against this budget from the recorded requests (as the proxy counts)."""
    since = now - WINDOW_SECONDS[budget.window]
    if budget.metric == KeyBudget.Metric.POOL_SHARE:
        accounts = list(Account.objects.all())
        utilisation = key_usage.pool_utilisation(accounts, now=now)[budget.window]
        every_key = key_usage.tallies(None, since=since)
        return key_usage.pool_shares(utilisation, every_key).get(budget.client_key_id, 0)
    tally = key_usage.tallies([budget.client_key_id], since=since).get(budget.client_key_id)
    return tally.get(budget.metric) if tally else 0.0
