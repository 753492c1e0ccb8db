"""The `clear_history` command: delete every recorded request (account counters stay)."""

from typing import Any

from django.core.management.base import BaseCommand

from analytics.operations import maintenance


class Command(BaseCommand):
    help = "Delete all recorded requests and their payloads."

    def handle(self, *args: Any, **options: Any) -> None:
        removed = maintenance.clear_history()
        self.stdout.write(f"History cleared: {removed} requests removed")
