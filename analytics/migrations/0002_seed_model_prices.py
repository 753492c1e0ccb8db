"""Seed ModelPrice with Anthropic's published prices (analytics.pricing.SEED_PRICES, docs/pricing.md)."""

from django.db import migrations

from analytics import pricing


def seed(apps, schema_editor):
    model_price = apps.get_model("analytics", "ModelPrice")
    pricing.seed_prices(model_price, using=schema_editor.connection.alias)


def unseed(apps, schema_editor):
    model_price = apps.get_model("analytics", "ModelPrice")
    pricing.unseed_prices(model_price, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
