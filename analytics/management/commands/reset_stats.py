"""The `reset_stats` command: delete the request history and zero the account counters."""

from typing import Any

from django.core.management.base import BaseCommand

from analytics.operations import maintenance


class Command(BaseCommand):
    help = "Delete all recorded requests and zero each account's request counters."

    def handle(self, *args: Any, **options: Any) -> None:
        removed = maintenance.reset_stats()
        self.stdout.write(f"Statistics reset: {removed} requests removed, account counters zeroed")
