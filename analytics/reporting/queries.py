"""Read-side queries for the API and commands: stats, request lists, one request's detail.

Plain dicts in ccflare's JSON shapes (docs/api.md), built from `values()` and
aggregates so no query runs per row. The analytics report lives in `analytics.reporting.report`.
"""

import uuid

from django.db.models import Avg, Count, Q, QuerySet, Sum

from access.models import ClientKey
from accounts.models import Account
from analytics.live import events
from analytics.models import Request, RequestPayload

NO_ACCOUNT = "no_account"


def stats() -> dict:
    """The headline numbers of /api/stats over the whole history (docs/api.md)."""
    totals = _totals(Request.objects.all())
    return {
        **_headline(totals),
        "topModels": top_models(limit=5, total=totals["requests"]),
        "avgTokensPerSecond": totals["avg_tps"],
        "accounts": account_usage(limit=10),
        "recentErrors": recent_errors(limit=10),
    }


def cli_stats() -> dict:
    """The `stats` command's JSON (ccflare's `--stats`): like /api/stats, with token details."""
    totals = _totals(Request.objects.all())
    accounts = Account.objects.order_by("-request_count", "name")[:10]
    return {
        **_headline(totals),
        "avgTokensPerSecond": totals["avg_tps"],
        "tokenDetails": totals["token_details"],
        "accounts": [
            {"name": a.name, "requestCount": a.request_count, "totalRequests": a.total_requests}
            for a in accounts
        ],
        "recentErrors": recent_errors(limit=10),
    }


def _headline(totals: dict) -> dict:
    """The numbers /api/stats and the `stats` command share."""
    return {
        "totalRequests": totals["requests"],
        "successRate": round(totals["success_rate"]),
        "activeAccounts": Account.objects.filter(request_count__gt=0).count(),
        "avgResponseTime": round(totals["avg_response"] or 0),
        "totalTokens": totals["tokens"],
        "totalCostUsd": totals["cost"],
    }


def _totals(rows: QuerySet) -> dict:
    agg = rows.aggregate(
        requests=Count("id"),
        successes=Count("id", filter=Q(success=True)),
        avg_response=Avg("response_time_ms"),
        tokens=Sum("total_tokens"),
        cost=Sum("cost_usd"),
        avg_tps=Avg("output_tokens_per_second"),
        input=Sum("input_tokens"),
        cache_read=Sum("cache_read_input_tokens"),
        cache_creation=Sum("cache_creation_input_tokens"),
        output=Sum("output_tokens"),
    )
    requests = agg["requests"]
    return {
        "requests": requests,
        "success_rate": agg["successes"] * 100 / requests if requests else 0,
        "avg_response": agg["avg_response"],
        "tokens": agg["tokens"] or 0,
        "cost": float(agg["cost"] or 0),
        "avg_tps": agg["avg_tps"],
        "token_details": {
            "input": agg["input"] or 0,
            "cacheRead": agg["cache_read"] or 0,
            "cacheCreation": agg["cache_creation"] or 0,
            "output": agg["output"] or 0,
        },
    }


def top_models(*, limit: int, total: int) -> list[dict]:
    rows = (
        Request.objects.exclude(model=None)
        .values("model")
        .annotate(count=Count("id"))
        .order_by("-count", "model")[:limit]
    )
    return [
        {
            "model": r["model"],
            "count": r["count"],
            "percentage": round(r["count"] * 100 / total, 2) if total else 0,
        }
        for r in rows
    ]


def account_usage(*, limit: int) -> list[dict]:
    """Requests per account from the history; unauthenticated ones as `no_account`."""
    rows = (
        Request.objects.values("account_id")
        .annotate(count=Count("id"), successes=Count("id", filter=Q(success=True)))
        .order_by("-count")[:limit]
    )
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=[r["account_id"] for r in rows])}
    result = []
    for row in rows:
        account = accounts.get(row["account_id"])
        result.append(
            {
                "name": account_name(row["account_id"], accounts),
                "requestCount": row["count"],
                "successRate": round(row["successes"] * 100 / row["count"]),
                "totalRequests": account.total_requests if account else row["count"],
            }
        )
    return result


def account_name(account_id: uuid.UUID | None, accounts: dict) -> str:
    """The account's name; `no_account` for none, the raw id for a deleted account."""
    if account_id is None:
        return NO_ACCOUNT
    account = accounts.get(account_id)
    return account.name if account else str(account_id)


def recent_errors(*, limit: int) -> list[str]:
    errors: list[str] = []
    rows = Request.objects.exclude(error_message=None).exclude(error_message="")
    for message in rows.order_by("-timestamp").values_list("error_message", flat=True)[:200]:
        if message and message not in errors:
            errors.append(message)
        if len(errors) == limit:
            break
    return errors


def recent_requests(*, limit: int) -> list[dict]:
    """The newest requests as ccflare's list items; `accountUsed` is the account's name."""
    rows = list(Request.objects.order_by("-timestamp")[:limit])
    names = _names(rows)
    return [_with_names(events.summary(row), row, names) for row in rows]


def recent_payloads(*, limit: int) -> list[dict]:
    """The newest captured payloads (/api/requests/detail, docs/api.md), with the account's name."""
    rows = list(
        RequestPayload.objects.select_related("request").order_by("-request__timestamp")[:limit]
    )
    names = _names([p.request for p in rows])
    return [payload_item(p, names) for p in rows]


def request_detail(request_id: str) -> dict | None:
    """One request with its payload and routing trace, or None if unknown."""
    try:
        row = Request.objects.filter(pk=uuid.UUID(request_id)).first()
    except ValueError:
        return None
    if row is None:
        return None
    names = _names([row])
    payload = RequestPayload.objects.filter(pk=row.pk).first()
    if payload is not None:
        payload.request = row  # already loaded: spare the lazy query
    return {
        **_with_names(events.summary(row), row, names),
        "accountId": str(row.account_id) if row.account_id else None,
        "routingTrace": row.routing_trace,
        "payload": payload_item(payload, names) if payload else None,
    }


def payload_item(payload: RequestPayload, names: dict) -> dict:
    if not isinstance(payload.data, dict):
        return {"id": str(payload.pk), "error": "Failed to parse payload"}
    meta = dict(payload.data.get("meta") or {})
    if payload.request.account_id is not None:
        meta["accountName"] = account_name(payload.request.account_id, names["accounts"])
    return {"id": str(payload.pk), **payload.data, "meta": meta}


def _names(rows: list[Request]) -> dict:
    """Names of the accounts and client keys these rows refer to, in two queries."""
    account_ids = {r.account_id for r in rows if r.account_id}
    key_ids = {r.client_key_id for r in rows if r.client_key_id}
    return {
        "accounts": {a.pk: a for a in Account.objects.filter(pk__in=account_ids)},
        "keys": dict(ClientKey.objects.filter(pk__in=key_ids).values_list("pk", "name")),
    }


def _with_names(item: dict, row: Request, names: dict) -> dict:
    if row.account_id is not None:
        item["accountUsed"] = account_name(row.account_id, names["accounts"])
    item["clientKey"] = names["keys"].get(row.client_key_id)
    return item
