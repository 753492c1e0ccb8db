"""The `stats` command: ccflare's `--stats` JSON (docs/compatibility.md, the CLI)."""

import json
from typing import Any

from django.core.management.base import BaseCommand

from analytics.reporting import queries


class Command(BaseCommand):
    help = "Print usage statistics as JSON."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(queries.cli_stats(), indent=2))
