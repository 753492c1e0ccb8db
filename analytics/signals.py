"""Signal receivers: price edits reprice unpriced requests; account changes reach the dashboard
and the metrics (accounts announces them, accounts/signals.py; it imports no other app)."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts import signals as account_signals
from accounts.models import Account
from analytics.live import events
from analytics.models import ModelPrice
from analytics.operations import metrics
from analytics.recording import cost


@receiver([post_save, post_delete], sender=ModelPrice)
def price_changed(**kwargs: object) -> None:
    cost.reprice_unpriced()


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


@receiver(account_signals.accounts_changed)
def accounts_written(changes: list[tuple[object, str]], **kwargs: object) -> None:
    for account_id, name in changes:
        events.publish_account_changed(account_id=account_id, name=name)


@receiver(account_signals.token_refreshed)
def token_refreshed(outcome: str, **kwargs: object) -> None:
    metrics.TOKEN_REFRESHES.labels(outcome=outcome).inc()
