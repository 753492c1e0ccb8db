"""The `analyze` command: table sizes, indexes, hot-query timings; refreshes planner statistics."""

from typing import Any

from django.core.management.base import BaseCommand

from analytics.operations import diagnostics


class Command(BaseCommand):
    help = "Show row counts, indexes and timings of the hot queries, then run ANALYZE."

    def handle(self, *args: Any, **options: Any) -> None:
        indexes = diagnostics.indexes()
        self.stdout.write("Tables (rows, indexes):")
        for table, rows in diagnostics.table_rows().items():
            self.stdout.write(f"  {table}: {rows} rows, {len(indexes[table])} indexes")
            for name in indexes[table]:
                self.stdout.write(f"    - {name}")
        diagnostics.refresh_statistics()
        self.stdout.write("Planner statistics refreshed (ANALYZE).")
        self.stdout.write("Hot queries:")
        for name, ms in diagnostics.hot_query_timings().items():
            self.stdout.write(f"  {name}: {ms} ms")
