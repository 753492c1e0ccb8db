"""Signal receivers: price edits reprice unpriced requests; account changes reach the dashboard."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Account
from analytics import events, prices
from analytics.models import ModelPrice


@receiver([post_save, post_delete], sender=ModelPrice)
def price_changed(**kwargs: object) -> None:
    prices.reprice_unpriced()


@receiver([post_save, post_delete], sender=Account)
def account_changed(instance: Account, signal: object, **kwargs: object) -> None:
    # Values taken now (a deleted instance loses its pk), sent after the commit so
    # a listener that re-reads the account sees the change.
    change: dict[str, Any] = {
        "account_id": instance.pk,
        "name": instance.name,
        "deleted": signal is post_delete,
    }
    transaction.on_commit(lambda: events.publish_account_changed(**change))
