"""Read-side queries for the API and commands: stats, request lists, one request's detail.

Plain dicts in ccflare's JSON shapes (docs/api.md), built from `values()` and
aggregates so no query runs per row. The totals, per-model and per-account counts
are `analytics.reporting.aggregates`' (shared with the report in
`analytics.reporting.report`); this module rounds and shapes them for /api/stats.
"""

import uuid
from collections.abc import Sequence

from django.db.models import QuerySet

from access.models import ClientKey
from accounts.models import Account
from analytics.models import Request, RequestPayload
from analytics.reporting import aggregates, key_report
from analytics.reporting.aggregates import account_name
from analytics.shapes import request_json


def stats(*, client_keys: Sequence[str] = ()) -> dict:
    """The headline numbers of /api/stats over the whole history (docs/api.md).

    `client_keys` narrows every number to the requests those keys sent (names; `no_key`
    for none); `clientKeys` is the per-key table of the same requests.
    """
    rows = key_report.key_filter(Request.objects.all(), list(client_keys))
    totals = aggregates.totals(rows)
    headline = _headline(totals)
    if client_keys:
        headline["activeAccounts"] = (
            rows.exclude(account_id=None).values("account_id").distinct().count()
        )
    return {
        **headline,
        "topModels": top_models(rows, limit=5, total=totals.requests),
        "avgTokensPerSecond": totals.avg_tokens_per_second,
        "accounts": account_usage(rows, limit=10),
        "recentErrors": recent_errors(rows, limit=10),
        "clientKeys": key_report.breakdown(rows, whole_history=True),
    }


def cli_stats() -> dict:
    """The `stats` command's JSON (ccflare's `--stats`): like /api/stats, with token details."""
    totals = aggregates.totals(Request.objects.all())
    accounts = Account.objects.order_by("-request_count", "name")[:10]
    return {
        **_headline(totals),
        "avgTokensPerSecond": totals.avg_tokens_per_second,
        "tokenDetails": {
            "input": totals.input_tokens,
            "cacheRead": totals.cache_read_tokens,
            "cacheCreation": totals.cache_creation_tokens,
            "output": totals.output_tokens,
        },
        "accounts": [
            {"name": a.name, "requestCount": a.request_count, "totalRequests": a.total_requests}
            for a in accounts
        ],
        "recentErrors": recent_errors(Request.objects.all(), limit=10),
    }


def _headline(totals: aggregates.Totals) -> dict:
    """The numbers /api/stats and the `stats` command share, rounded as ccflare's stats."""
    return {
        "totalRequests": totals.requests,
        "successRate": round(totals.success_rate),
        "activeAccounts": Account.objects.filter(request_count__gt=0).count(),
        "avgResponseTime": round(totals.avg_response_time_ms or 0),
        "totalTokens": totals.tokens,
        "totalCostUsd": totals.cost_usd,
        # Extension: requests whose cost totalCostUsd leaves out (their model has no price).
        "unpricedRequests": totals.unpriced_requests,
    }


def top_models(rows: QuerySet, *, limit: int, total: int) -> list[dict]:
    return [
        {
            "model": model,
            "count": count,
            "percentage": round(count * 100 / total, 2) if total else 0,
        }
        for model, count in aggregates.model_counts(rows, limit=limit)
    ]


def account_usage(rows: QuerySet, *, limit: int) -> list[dict]:
    """Requests per account from the whole history; unauthenticated ones as `no_account`."""
    return [
        {
            "name": c.name,
            "requestCount": c.requests,
            "successRate": round(c.success_rate),
            "totalRequests": c.account.total_requests if c.account else c.requests,
        }
        for c in aggregates.account_counts(rows, whole_history=True)[:limit]
    ]


def recent_errors(rows: QuerySet, *, limit: int) -> list[str]:
    errors: list[str] = []
    rows = rows.exclude(error_message=None).exclude(error_message="")
    for message in rows.order_by("-timestamp").values_list("error_message", flat=True)[:200]:
        if message and message not in errors:
            errors.append(message)
        if len(errors) == limit:
            break
    return errors


def recent_requests(*, limit: int, client_keys: Sequence[str] = ()) -> list[dict]:
    """The newest requests as ccflare's list items; `accountUsed` is the account's name.

    `client_keys` keeps those sent with these keys (names; `no_key` for none).
    """
    matching = key_report.key_filter(Request.objects.all(), list(client_keys))
    rows = list(matching.order_by("-timestamp")[:limit])
    names = _names(rows)
    return [_with_names(request_json(row), row, names) for row in rows]


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
        **_with_names(request_json(row), row, names),
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
