"""Realistic dashboard data: a small pool in varied states and many recorded requests.

Used by the browser tests (screenshots that look like real use) and by
bench/dashboard_load.py (page-load times with 10,000 requests). Deterministic:
the same seed gives the same rows.
"""

import base64
import json
import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Account
from analytics.models import Request, RequestPayload
from tests.factories import make_account, make_oauth_account

MODELS = [
    # model, share, $ per M input, $ per M output
    ("claude-sonnet-4-5-20250929", 0.55, Decimal(3), Decimal(15)),
    ("claude-opus-4-1-20250805", 0.15, Decimal(15), Decimal(75)),
    ("claude-haiku-4-5-20251001", 0.30, Decimal(1), Decimal(5)),
]
ERRORS = [
    (429, "Rate limited: all accounts are at their limit"),
    (529, "Overloaded"),
    (500, "upstream error: connection reset"),
    (400, "messages: at least one message is required"),
]


def seed_accounts(*, now: datetime | None = None) -> list[Account]:
    """Four accounts: one holding the session (Opus capped), one API key, one rate-limited,
    one paused."""
    now = now or timezone.now()
    return [
        make_oauth_account(
            name="max-main",
            priority=0,
            session_start=now - timedelta(hours=1, minutes=12),
            session_request_count=184,
            holds_session=True,
            # Its Opus calls go elsewhere until the weekly Opus cap resets; Sonnet stays here.
            model_limits={
                "opus": {
                    "until": (now + timedelta(days=1, hours=5)).isoformat(),
                    "claim": "seven_day_opus",
                }
            },
            five_hour_utilization=0.42,
            five_hour_reset=now + timedelta(hours=3, minutes=48),
            seven_day_utilization=0.18,
            seven_day_reset=now + timedelta(days=4, hours=6),
            rate_limit_status="allowed",
            expires_at=now + timedelta(hours=6),
        ),
        make_account(name="console-team", priority=1),
        make_oauth_account(
            name="max-backup",
            priority=2,
            rate_limited_until=now + timedelta(minutes=38),
            rate_limit_status="rejected",
            five_hour_utilization=1.0,
            five_hour_reset=now + timedelta(minutes=38),
            seven_day_utilization=0.71,
            seven_day_reset=now + timedelta(days=2, hours=3),
        ),
        make_account(name="spare-key", priority=3, paused=True),
    ]


def seed_requests(
    count: int, *, accounts: list[Account], days: float = 7, payloads: int = 50, seed: int = 6
) -> None:
    """`count` requests spread over the last `days` (denser recently), `payloads` with bodies."""
    rng = random.Random(seed)
    now = timezone.now()
    rows = [_request(rng, now=now, days=days, accounts=accounts) for _ in range(count)]
    # Oldest first, as the proxy writes them: the table's order on disk then follows time,
    # as in a real install (random order made a window's rows scattered reads: 4x slower).
    rows.sort(key=lambda r: r.timestamp)
    for start in range(0, len(rows), 1000):
        Request.objects.bulk_create(rows[start : start + 1000])
    newest = sorted(rows, key=lambda r: r.timestamp, reverse=True)[:payloads]
    RequestPayload.objects.bulk_create(_payload(row) for row in newest)
    for account in accounts:
        served = sum(1 for row in rows if row.account_id == account.pk)
        last = max((row.timestamp for row in rows if row.account_id == account.pk), default=None)
        Account.objects.filter(pk=account.pk).update(
            request_count=served, total_requests=served, last_used=last
        )


def _request(rng: random.Random, *, now: datetime, days: float, accounts: list) -> Request:
    # Squaring skews the ages towards now, like a pool that is busy today.
    age = timedelta(seconds=days * 86400 * rng.random() ** 2)
    model, _, price_in, price_out = rng.choices(MODELS, weights=[m[1] for m in MODELS])[0]
    failed = rng.random() < 0.04
    status, error = rng.choice(ERRORS) if failed else (200, None)
    input_tokens = rng.randint(8, 4000)
    cache_read = rng.choice([0, 0, rng.randint(1000, 60000)])
    cache_write = rng.choice([0, 0, 0, rng.randint(500, 8000)])
    output = 0 if failed else rng.randint(20, 2400)
    response_ms = rng.randint(300, 2000) + output * rng.randint(8, 20)
    cost = (Decimal(input_tokens) * price_in + Decimal(output) * price_out) / 1_000_000
    usable = [a for a in accounts if not a.paused] or [None]
    account = rng.choice(usable)
    return Request(
        id=uuid.UUID(int=rng.getrandbits(128), version=4),
        timestamp=now - age,
        method="POST",
        path="/v1/messages",
        account_id=account.pk if account else None,
        status_code=status,
        success=not failed,
        error_message=error,
        terminal_state=Request.Terminal.ERROR if failed else Request.Terminal.COMPLETE,
        is_stream=rng.random() < 0.8,
        response_time_ms=response_ms,
        time_to_first_token_ms=rng.randint(250, 1400),
        failover_attempts=1 if status == 429 else 0,
        routing_trace=[{"account": account.name if account else None, "outcome": "served"}],
        model=model,
        input_tokens=input_tokens,
        cache_read_input_tokens=cache_read,
        cache_creation_input_tokens=cache_write,
        output_tokens=output,
        prompt_tokens=input_tokens + cache_read + cache_write,
        completion_tokens=output,
        total_tokens=input_tokens + cache_read + cache_write + output,
        cost_usd=None if failed else cost,
        output_tokens_per_second=None if failed else round(output * 1000 / response_ms, 1),
    )


def _payload(row: Request) -> RequestPayload:
    body = {
        "model": row.model,
        "max_tokens": 4096,
        "system": "You are Claude Code, Anthropic's official CLI for Claude.",
        "messages": [
            {"role": "user", "content": "Why does the test in tests/test_api.py fail?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "I should read the test file first."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "Read",
                        "input": {"file_path": "tests/test_api.py"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01",
                        "content": "1→import pytest\n2→\n3→def test_health(client):\n"
                        "4→    assert client.get('/health').status_code == 200\n"
                        "<system-reminder>internal note</system-reminder>",
                    }
                ],
            },
        ],
    }
    reply = {
        "type": "message",
        "role": "assistant",
        "model": row.model,
        "content": [{"type": "text", "text": "The test calls `/health` before migrations ran."}],
        "usage": {"input_tokens": row.input_tokens, "output_tokens": row.output_tokens},
    }
    data = {
        "request": {
            "headers": {"content-type": "application/json", "x-api-key": "[REDACTED]"},
            "body": base64.b64encode(json.dumps(body).encode()).decode(),
        },
        "response": {
            "status": row.status_code,
            "headers": {"content-type": "application/json", "request-id": "req_seed"},
            "body": base64.b64encode(json.dumps(reply).encode()).decode(),
        },
        "meta": {"accountId": str(row.account_id), "success": row.success, "truncated": False},
    }
    return RequestPayload(request=row, data=data)
