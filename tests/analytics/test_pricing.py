"""Prices: lookup by model, date and band; cost arithmetic; the seeded table."""

import datetime
import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection

from analytics import price_seed
from analytics.models import ModelPrice
from analytics.recording import cost
from analytics.recording.cost import Price, PriceTable, cost_usd
from tests.factories import make_request

seed_migration = importlib.import_module("analytics.migrations.0002_seed_model_prices")


def seeded(row: dict) -> Price:
    """A seed row as the Price the stored table would give."""
    rates = {field: Decimal(row[key]) for key, field in price_seed.SEED_RATE_FIELDS.items()}
    return Price(
        model=row["model"],
        effective_from=datetime.date.fromisoformat(row["effective_from"]),
        prompt_tokens_over=row["prompt_tokens_over"],
        **rates,
    )


TABLE = PriceTable(seeded(row) for row in price_seed.SEED_PRICES)
TODAY = datetime.date(2026, 11, 24)

# Every model id of docs/pricing.md's seed table, dated ids reduced to their alias.
PRICES_MD_MODELS = {
    "claude-fable-5-1",
    "claude-mythos-5-1",
    "claude-fable-5",
    "claude-mythos-5",
    "claude-opus-5-5",
    "claude-opus-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-opus-4-5",
    "claude-opus-4-1",
    "claude-opus-4",
    "claude-sonnet-5-5",
    "claude-sonnet-5",
    "claude-sonnet-4-6",
    "claude-sonnet-4-5",
    "claude-sonnet-4",
    "claude-haiku-5-5",
    "claude-haiku-4-5",
    "claude-3-5-haiku-20241022",
}


def price_of(model: str, *, prompt_tokens: int = 1, on: datetime.date = TODAY) -> Price:
    price = TABLE.lookup(model, on=on, prompt_tokens=prompt_tokens)
    assert price is not None
    return price


@pytest.mark.parametrize(
    ("model", "usage", "expected"),
    [
        # 1000×3 + 200×0.30 + 300×3.75 + 100×6 + 500×15 = 12285 → /1e6
        ("claude-sonnet-4-5-20250929", (1000, 200, 300, 100, 500), Decimal("0.01228500")),
        # 1000×15 + 200×1.50 + 300×18.75 + 100×30 + 500×75 = 61425
        ("claude-opus-4-1-20250805", (1000, 200, 300, 100, 500), Decimal("0.06142500")),
        # 1000×5 + 200×0.50 + 300×6.25 + 100×10 + 500×25 = 20475
        ("claude-opus-4-5-20251101", (1000, 200, 300, 100, 500), Decimal("0.02047500")),
        # 2000×0.80 + 0 + 1000×1.00 + 0 + 250×4 = 3600
        ("claude-3-5-haiku-20241022", (2000, 0, 1000, 0, 250), Decimal("0.00360000")),
        # 1×0.125 = 0.125 → 0.000000125, rounded half up at 8 places
        ("claude-haiku-5-5", (0, 0, 1, 0, 0), Decimal("0.00000013")),
        ("claude-haiku-5-5", (0, 0, 0, 0, 0), Decimal("0E-8")),
    ],
    ids=["sonnet-4-5", "opus-4-1", "opus-4-5", "3-5-haiku", "rounds-half-up", "nothing"],
)
def test_costs_each_token_kind_at_its_rate(
    model: str, usage: tuple[int, int, int, int, int], expected: Decimal
) -> None:
    input_tokens, cache_read, write_5m, write_1h, output = usage

    cost = cost_usd(
        price_of(model, prompt_tokens=input_tokens + cache_read + write_5m + write_1h),
        input_tokens=input_tokens,
        cache_read_tokens=cache_read,
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        output_tokens=output,
    )

    assert cost == expected


@pytest.mark.parametrize(
    ("input_tokens", "expected"),
    [
        # band 1: 90000×0.10 + 10000×0.01 + 1000×0.50 = 9600
        (90_000, Decimal("0.00960000")),
        # band 2, output included: 90001×0.50 + 10000×0.05 + 1000×2.50 = 48000.5
        (90_001, Decimal("0.04800050")),
    ],
    ids=["100000-prompt-band-1", "100001-prompt-band-2"],
)
def test_haiku_5_5_prompt_over_100k_takes_second_band(input_tokens: int, expected: Decimal) -> None:
    price = price_of("claude-haiku-5-5", prompt_tokens=input_tokens + 10_000)

    cost = cost_usd(
        price,
        input_tokens=input_tokens,
        cache_read_tokens=10_000,
        cache_write_5m_tokens=0,
        cache_write_1h_tokens=0,
        output_tokens=1000,
    )

    assert cost == expected


@pytest.mark.parametrize(
    ("prompt_tokens", "band"), [(0, 0), (1, 0), (100_000, 0), (100_001, 100_000)]
)
def test_picks_highest_band_below_prompt(prompt_tokens: int, band: int) -> None:
    assert price_of("claude-haiku-5-5", prompt_tokens=prompt_tokens).prompt_tokens_over == band


@pytest.mark.parametrize(
    ("on", "cache_read_usd"),
    [
        (datetime.date(2023, 1, 1), Decimal("0.20")),
        (datetime.date(2026, 10, 6), Decimal("0.20")),
        (datetime.date(2026, 10, 7), Decimal("0.10")),
        (datetime.date(2027, 1, 1), Decimal("0.10")),
    ],
)
def test_sonnet_5_5_cache_read_price_changes_on_2026_10_07(
    on: datetime.date, cache_read_usd: Decimal
) -> None:
    price = price_of("claude-sonnet-5-5", on=on)

    assert price.cache_read_usd == cache_read_usd
    assert (price.input_usd, price.output_usd) == (Decimal("2.00"), Decimal("10.00"))


@pytest.mark.parametrize(
    ("model", "priced_as"),
    [
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
    ],
)
def test_dated_id_maps_to_its_alias(model: str, priced_as: str) -> None:
    assert price_of(model).model == priced_as


def test_exact_dated_row_wins_over_alias() -> None:
    dated = Price(
        "claude-haiku-4-5-20251001",
        datetime.date(2023, 1, 1),
        0,
        *[Decimal("9")] * 5,
    )
    table = PriceTable([*map(seeded, price_seed.SEED_PRICES), dated])

    assert table.lookup("claude-haiku-4-5-20251001", on=TODAY, prompt_tokens=1) == dated


@pytest.mark.parametrize(
    ("model", "on"),
    [
        ("claude-fable-5-2", TODAY),
        ("claude-mythos-5-2", TODAY),
        ("claude-fable-5-2-20261101", TODAY),
        ("gpt-4o", TODAY),
        ("claude-sonnet-4-5", datetime.date(2022, 12, 31)),
    ],
    ids=["fable-5-2", "mythos-5-2", "dated-unknown", "other-vendor", "before-first-price"],
)
def test_unpriced_model_returns_none(model: str, on: datetime.date) -> None:
    assert TABLE.lookup(model, on=on, prompt_tokens=1000) is None


@pytest.mark.django_db
def test_migration_seeds_every_priced_model() -> None:
    # Run the migration's step on an empty table: a transactional test before this one
    # may have flushed the rows the test database was migrated with.
    ModelPrice.objects.all().delete()
    seed_migration.seed(apps, connection.schema_editor())
    models = set(ModelPrice.objects.values_list("model", flat=True))
    sonnet_5_5 = ModelPrice.objects.filter(model="claude-sonnet-5-5").order_by("effective_from")
    haiku_band_2 = ModelPrice.objects.get(model="claude-haiku-5-5", prompt_tokens_over=100_000)

    assert models == PRICES_MD_MODELS
    assert ModelPrice.objects.count() == len(price_seed.SEED_PRICES) == 22
    assert [(row.effective_from, row.cache_read_usd) for row in sonnet_5_5] == [
        (datetime.date(2023, 1, 1), Decimal("0.20")),
        (datetime.date(2026, 10, 7), Decimal("0.10")),
    ]
    assert (
        haiku_band_2.input_usd,
        haiku_band_2.cache_write_5m_usd,
        haiku_band_2.cache_write_1h_usd,
        haiku_band_2.cache_read_usd,
        haiku_band_2.output_usd,
    ) == (Decimal("0.5"), Decimal("0.625"), Decimal("1"), Decimal("0.05"), Decimal("2.5"))


@pytest.mark.django_db
def test_seed_prices_is_idempotent_and_keeps_admin_edits() -> None:
    price_seed.seed_prices(ModelPrice)
    ModelPrice.objects.filter(model="claude-opus-4-8").update(output_usd=Decimal("24"))

    created = price_seed.seed_prices(ModelPrice)

    assert created == 0
    assert ModelPrice.objects.count() == 22
    assert ModelPrice.objects.get(model="claude-opus-4-8").output_usd == Decimal("24")


@pytest.mark.django_db
def test_seed_prices_restores_deleted_rows() -> None:
    price_seed.unseed_prices(ModelPrice)

    created = price_seed.seed_prices(ModelPrice)

    assert created == 22
    assert ModelPrice.objects.count() == 22


@pytest.mark.django_db
def test_stored_prices_charge_each_cache_write_lifetime_at_its_own_rate() -> None:
    price_seed.seed_prices(ModelPrice)
    cost.invalidate()
    million = 1_000_000
    five_minutes = make_request(
        model="claude-sonnet-4-5",
        cache_creation_input_tokens=million,
        cache_creation_5m_tokens=million,
    )
    one_hour = make_request(
        model="claude-sonnet-4-5",
        cache_creation_input_tokens=million,
        cache_creation_1h_tokens=million,
    )

    cost.apply_cost(five_minutes, cost.current_table())
    cost.apply_cost(one_hour, cost.current_table())

    assert (five_minutes.cost_usd, one_hour.cost_usd) == (Decimal("3.75"), Decimal("6"))
