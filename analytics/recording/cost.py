"""Cost: model prices per million tokens, the table of them in force, and what a request cost.

The one module that turns usage into money (docs/pricing.md): `Price`/`PriceTable`
answer which price applied, `cost_usd` multiplies it out, and the rest reads the
stored table (ModelPrice rows, cached) and prices recorded requests. The seed rows the
data migration writes live in analytics/price_seed.py.
"""

import dataclasses
import datetime
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from analytics.models import ModelPrice, Request

_PER_MILLION = Decimal(1_000_000)
_COST_PLACES = Decimal("0.00000001")  # Request.cost_usd keeps 8 decimal places
# The most Request.cost_usd holds (14 digits, 8 of them decimals). SQLite stored a larger
# cost (a reply claiming 10**15 tokens), which then failed every list that read it.
MAX_COST = Decimal("999999.99999999")
# "claude-opus-4-5-20251101" is a snapshot of the alias "claude-opus-4-5".
_DATED_SUFFIX = re.compile(r"-\d{8}$")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens of each kind for one model, date and prompt-length band."""

    model: str
    effective_from: datetime.date
    prompt_tokens_over: int  # the band applies to prompts over this many tokens
    input_usd: Decimal
    cache_write_5m_usd: Decimal
    cache_write_1h_usd: Decimal
    cache_read_usd: Decimal
    output_usd: Decimal


class PriceTable:
    """Every known price, answering which one applied to a request."""

    def __init__(self, prices: Iterable[Price]) -> None:
        # Newest date first, then highest band first, so lookups take the first match.
        ordered = sorted(
            prices, key=lambda p: (p.effective_from, p.prompt_tokens_over), reverse=True
        )
        self._by_model: dict[str, list[Price]] = {}
        for price in ordered:
            self._by_model.setdefault(price.model, []).append(price)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PriceTable) and self._by_model == other._by_model

    __hash__ = None  # type: ignore[assignment]  # mutable contents: unhashable, as a dict

    def lookup(self, model: str, *, on: datetime.date, prompt_tokens: int) -> Price | None:
        """Return the price of `model` in force on `on` for a prompt of `prompt_tokens`.

        1. Try the exact model id, then its alias without a `-YYYYMMDD` suffix.
        2. Take that model's rows of the latest effective date not after `on`.
        3. Among them, the band with the highest `prompt_tokens_over` below
           `prompt_tokens`; the lowest band when none is (an empty prompt).
        Returns None when no row of the model is in force on `on`.
        """
        price = self._lookup_model(model, on=on, prompt_tokens=prompt_tokens)
        alias = _DATED_SUFFIX.sub("", model)
        if price is None and alias != model:
            price = self._lookup_model(alias, on=on, prompt_tokens=prompt_tokens)
        return price

    def _lookup_model(self, model: str, *, on: datetime.date, prompt_tokens: int) -> Price | None:
        in_force = [p for p in self._by_model.get(model, ()) if p.effective_from <= on]
        if not in_force:
            return None
        bands = [p for p in in_force if p.effective_from == in_force[0].effective_from]
        return next((p for p in bands if p.prompt_tokens_over < prompt_tokens), bands[-1])


def cost_usd(
    price: Price,
    *,
    input_tokens: int,
    cache_read_tokens: int,
    cache_write_5m_tokens: int,
    cache_write_1h_tokens: int,
    output_tokens: int,
) -> Decimal:
    """Each token kind times its rate per million, summed, rounded half-up to 8 places;
    at most MAX_COST, the most the column holds."""
    total = (
        input_tokens * price.input_usd
        + cache_read_tokens * price.cache_read_usd
        + cache_write_5m_tokens * price.cache_write_5m_usd
        + cache_write_1h_tokens * price.cache_write_1h_usd
        + output_tokens * price.output_usd
    )
    return min((total / _PER_MILLION).quantize(_COST_PLACES, rounding=ROUND_HALF_UP), MAX_COST)


_cache: tuple[float, PriceTable] | None = None
# A reload found other prices than the table it replaces: saved by another process (the
# admin, a command, another worker), whose repricing of the unpriced requests could not
# see the requests this one recorded meanwhile with its old table. The recorder reprices
# them after its next write (reprice_if_changed).
_changed = False


def current_table() -> PriceTable:
    """The price table, read at most every PRICE_CACHE_SECONDS (sync: call from a thread)."""
    global _cache, _changed
    now = time.monotonic()
    if _cache is None or now - _cache[0] > settings.PRICE_CACHE_SECONDS:
        table = PriceTable(_load())
        _changed = _changed or (_cache is not None and table != _cache[1])
        _cache = (now, table)
    return _cache[1]


def reprice_if_changed() -> int:
    """After a write: price the unpriced requests if the prices changed since the last
    time (another process saved them). Returns how many were priced."""
    global _changed
    if not _changed:
        return 0
    _changed = False
    return reprice_unpriced()


def cached_table() -> PriceTable | None:
    """The price table if one was read within PRICE_CACHE_SECONDS, without reading it
    (for the event loop, where no query may run)."""
    cache = _cache
    if cache is None or time.monotonic() - cache[0] > settings.PRICE_CACHE_SECONDS:
        return None
    return cache[1]


def invalidate() -> None:
    global _cache
    _cache = None


def _load() -> list[Price]:
    # Price's fields are ModelPrice's columns of the same names.
    columns = [field.name for field in dataclasses.fields(Price)]
    return [Price(**row) for row in ModelPrice.objects.values(*columns)]


def apply_cost(request: Request, table: PriceTable) -> None:
    """Set cost_usd and unpriced on a request from its model and token counts.

    No model or no tokens: nothing to price (cost NULL, not unpriced). A model
    with no price in force at the request's start: cost NULL and unpriced, never $0.
    """
    request.cost_usd = None
    request.unpriced = False
    if not request.model or request.total_tokens == 0:
        return
    price = table.lookup(
        request.model, on=request.timestamp.date(), prompt_tokens=request.prompt_tokens
    )
    if price is None:
        request.unpriced = True
        return
    request.cost_usd = cost_usd(
        price,
        input_tokens=request.input_tokens,
        cache_read_tokens=request.cache_read_input_tokens,
        cache_write_5m_tokens=request.cache_creation_5m_tokens,
        cache_write_1h_tokens=request.cache_creation_1h_tokens,
        output_tokens=request.output_tokens,
    )


def reprice_unpriced() -> int:
    """Price the requests recorded while their model had no price; returns how many."""
    invalidate()
    table = current_table()
    repriced = []
    for request in Request.objects.filter(unpriced=True).iterator():
        apply_cost(request, table)
        if not request.unpriced:
            repriced.append(request)
    Request.objects.bulk_update(repriced, ["cost_usd", "unpriced"], batch_size=500)
    return len(repriced)
