"""Signal receivers: a price edit reaches new requests at once and prices old unpriced ones."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from analytics import prices
from analytics.models import ModelPrice


@receiver([post_save, post_delete], sender=ModelPrice)
def price_changed(**kwargs: object) -> None:
    prices.reprice_unpriced()
