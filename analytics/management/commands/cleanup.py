"""The `cleanup` command: apply the retention windows now."""

from typing import Any

from django.core.management.base import BaseCommand

from analytics.operations import maintenance


class Command(BaseCommand):
    help = "Delete payloads and requests older than the retention windows."

    def handle(self, *args: Any, **options: Any) -> None:
        result = maintenance.cleanup()
        self.stdout.write(
            f"Removed {result.removed_requests} requests and {result.removed_payloads} payloads "
            f"(cutoff {result.cutoff.isoformat()})"
        )
