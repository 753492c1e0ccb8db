"""The requests' own index on account_id goes: request_account_ts (account, -timestamp)
serves every lookup by account, and each index is one more B-tree written per row.

Dropped by name rather than through AlterField: on SQLite an AlterField rebuilds the
whole requests table, which on a long history takes minutes.
"""

from django.db import migrations, models

INDEX = "analytics_request_account_id_b11cf469"


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0005_request_time_ordered_id"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "analytics_request" ("account_id")',
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="request",
                    name="account",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="requests",
                        to="accounts.account",
                    ),
                )
            ],
        )
    ]
