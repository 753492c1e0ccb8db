"""The `compact` command: give freed space back (VACUUM; VACUUM ANALYZE on PostgreSQL)."""

from typing import Any

from django.core.management.base import BaseCommand

from analytics.operations import maintenance


class Command(BaseCommand):
    help = "Compact the database; blocks writers briefly on SQLite."

    def handle(self, *args: Any, **options: Any) -> None:
        maintenance.compact()
        self.stdout.write("Database compacted")
