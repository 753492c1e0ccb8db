"""The requests' own index on client_key_id becomes request_key_ts (client key, -timestamp).

On client_key_id alone, SQLite answered "this key's requests in the last hour" (the
budgets' read, every second) by reading every request the key ever sent; the pair finds
the window directly, and serves every lookup by key as the old index did.

The old index is dropped by name rather than through AlterField: on SQLite an AlterField
rebuilds the whole requests table, which on a long history takes minutes (as in 0006).
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "analytics_request_client_key_id_b600cb2d"


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0002_client_key_budgets_and_model_rules"),
        ("accounts", "0006_account_priority_range"),
        ("analytics", "0006_request_account_single_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "analytics_request" ("client_key_id")',
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="request",
                    name="client_key",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="requests",
                        to="access.clientkey",
                    ),
                )
            ],
        ),
        migrations.AddIndex(
            model_name="request",
            index=models.Index(fields=["client_key", "-timestamp"], name="request_key_ts"),
        ),
    ]
