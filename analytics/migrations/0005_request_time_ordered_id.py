"""Request ids become UUID version 7 (lib/ids.py): only the field's Python default changes.

The column is the same (char(32) on SQLite, uuid on PostgreSQL, no default in the
database either way), so nothing is done to the database. As a plain AlterField this
rebuilt the whole requests table on SQLite (Django remakes a table for any change to a
field it does not know to be Python-only, `default` included): with 300,000 requests,
14 s, the database's disk use 2.7 times over while it ran and 330 MB of memory, growing
with the history. Installs that already applied it keep what it did (the same columns).
"""

import lib.ids
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_request_original_model"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="request",
                    name="id",
                    field=models.UUIDField(
                        default=lib.ids.uuid7, editable=False, primary_key=True, serialize=False
                    ),
                )
            ],
        )
    ]
