"""The price table's seed: Anthropic's published prices, written by the data migration.

Read by analytics/migrations/0002_seed_model_prices.py (and the tests' `prices`
fixture). After that, prices are data that admins edit (docs/pricing.md).
"""

import datetime
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

# SEED_PRICES row key -> Price / ModelPrice field.
SEED_RATE_FIELDS = {
    "input": "input_usd",
    "cache_write_5m": "cache_write_5m_usd",
    "cache_write_1h": "cache_write_1h_usd",
    "cache_read": "cache_read_usd",
    "output": "output_usd",
}


_SINCE_EVER = "2023-01-01"


def _seed_rows(
    models: Sequence[str],
    rates: tuple[str, str, str, str, str],
    note: str = "",
    *,
    effective_from: str = _SINCE_EVER,
    prompt_tokens_over: int = 0,
) -> list[dict[str, Any]]:
    """One seed row per model id; `rates` in docs/pricing.md's column order."""
    return [
        {
            "model": model,
            "effective_from": effective_from,
            "prompt_tokens_over": prompt_tokens_over,
            **dict(zip(SEED_RATE_FIELDS, rates, strict=True)),
            "note": note,
        }
        for model in models
    ]


# From Anthropic's pricing pages, read 2026-11-24 (docs/pricing.md, with the rules). Rates are
# (input, 5m write, 1h write, cache read, output) in USD per million tokens. Dated ids
# such as claude-opus-4-5-20251101 reach these rows through their alias. Models with
# no published price (claude-fable-5-2, claude-mythos-5-2) are left out on purpose:
# they must show as unpriced, never as $0.
SEED_PRICES: list[dict[str, Any]] = [
    *_seed_rows(["claude-fable-5-1"], ("10.00", "12.50", "20.00", "0.25", "50.00")),
    *_seed_rows(
        ["claude-mythos-5-1"],
        ("10.00", "12.50", "20.00", "0.25", "50.00"),
        "limited availability",
    ),
    *_seed_rows(["claude-fable-5"], ("10.00", "12.50", "20.00", "1.00", "50.00")),
    *_seed_rows(
        ["claude-mythos-5"], ("10.00", "12.50", "20.00", "1.00", "50.00"), "limited availability"
    ),
    *_seed_rows(["claude-opus-5-5"], ("4.00", "5.00", "8.00", "0.20", "20.00")),
    *_seed_rows(["claude-opus-5"], ("5.00", "6.25", "10.00", "0.50", "25.00"), "legacy"),
    *_seed_rows(
        ["claude-opus-4-8", "claude-opus-4-7", "claude-opus-4-6", "claude-opus-4-5"],
        ("5.00", "6.25", "10.00", "0.50", "25.00"),
    ),
    *_seed_rows(
        ["claude-opus-4-1", "claude-opus-4"],
        ("15.00", "18.75", "30.00", "1.50", "75.00"),
        "retired on the Claude API",
    ),
    *_seed_rows(
        ["claude-sonnet-5-5"],
        ("2.00", "2.50", "4.00", "0.20", "10.00"),
        "cache read 0.20 before 2026-10-07",
    ),
    *_seed_rows(
        ["claude-sonnet-5-5"],
        ("2.00", "2.50", "4.00", "0.10", "10.00"),
        "cache read cut to 0.10 on 2026-10-07",
        effective_from="2026-10-07",
    ),
    *_seed_rows(["claude-sonnet-5"], ("2.00", "2.50", "4.00", "0.20", "10.00"), "legacy"),
    *_seed_rows(
        ["claude-sonnet-4-6", "claude-sonnet-4-5", "claude-sonnet-4"],
        ("3.00", "3.75", "6.00", "0.30", "15.00"),
    ),
    *_seed_rows(
        ["claude-haiku-5-5"],
        ("0.10", "0.125", "0.20", "0.01", "0.50"),
        "band 1: prompt up to 100,000 tokens",
    ),
    *_seed_rows(
        ["claude-haiku-5-5"],
        ("0.50", "0.625", "1.00", "0.05", "2.50"),
        "band 2: prompt over 100,000 tokens",
        prompt_tokens_over=100_000,
    ),
    *_seed_rows(["claude-haiku-4-5"], ("1.00", "1.25", "2.00", "0.10", "5.00")),
    # Only ever published as a dated id, so the dated id is the row's own model.
    *_seed_rows(
        ["claude-3-5-haiku-20241022"], ("0.80", "1.00", "1.60", "0.08", "4.00"), "historical"
    ),
]


def seed_prices(model_cls: Any, *, using: str = "default") -> int:
    """Insert the SEED_PRICES rows that `model_cls` lacks; return how many were created.

    `model_cls` is analytics.ModelPrice or its historical version in a migration. Rows
    are matched on (model, effective_from, prompt_tokens_over); an existing row is left
    as it is, because prices are data that admins edit and a re-run must not undo that.
    """
    created = 0
    for row in SEED_PRICES:
        _, was_created = model_cls.objects.using(using).get_or_create(
            **_seed_key(row),
            defaults={
                **{field: Decimal(row[key]) for key, field in SEED_RATE_FIELDS.items()},
                "note": row["note"],
            },
        )
        created += was_created
    return created


def unseed_prices(model_cls: Any, *, using: str = "default") -> int:
    """Delete the rows that SEED_PRICES would create; return how many were deleted."""
    deleted = 0
    for row in SEED_PRICES:
        deleted += model_cls.objects.using(using).filter(**_seed_key(row)).delete()[0]
    return deleted


def _seed_key(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "model": row["model"],
        "effective_from": datetime.date.fromisoformat(row["effective_from"]),
        "prompt_tokens_over": row["prompt_tokens_over"],
    }
