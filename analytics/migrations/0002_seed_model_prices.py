"""Seed ModelPrice with Anthropic's published prices (analytics.price_seed.SEED_PRICES, docs/pricing.md)."""

from django.db import migrations

from analytics import price_seed


def seed(apps, schema_editor):
    model_price = apps.get_model("analytics", "ModelPrice")
    price_seed.seed_prices(model_price, using=schema_editor.connection.alias)


def unseed(apps, schema_editor):
    model_price = apps.get_model("analytics", "ModelPrice")
    price_seed.unseed_prices(model_price, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
