"""The price table as stored (ModelPrice rows), cached, and applied to recorded requests."""

import time

from django.conf import settings

from analytics import pricing
from analytics.models import ModelPrice, Request

_cache: tuple[float, pricing.PriceTable] | None = None


def current_table() -> pricing.PriceTable:
    """The price table, read at most every PRICE_CACHE_SECONDS (sync: call from a thread)."""
    global _cache
    now = time.monotonic()
    if _cache is None or now - _cache[0] > settings.PRICE_CACHE_SECONDS:
        _cache = (now, pricing.PriceTable(_load()))
    return _cache[1]


def invalidate() -> None:
    global _cache
    _cache = None


def _load() -> list[pricing.Price]:
    return [
        pricing.Price(
            model=row.model,
            effective_from=row.effective_from,
            prompt_tokens_over=row.prompt_tokens_over,
            input_usd=row.input_usd,
            cache_write_5m_usd=row.cache_write_5m_usd,
            cache_write_1h_usd=row.cache_write_1h_usd,
            cache_read_usd=row.cache_read_usd,
            output_usd=row.output_usd,
        )
        for row in ModelPrice.objects.all()
    ]


def apply_cost(request: Request, table: pricing.PriceTable) -> None:
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
    request.cost_usd = pricing.cost_usd(
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
