"""The `logs` command: print the last lines of the log file, optionally following it.

It tails the file, so unlike ccflare's `--logs` it follows what the server
process logs, not only its own events.
"""

import time
from argparse import ArgumentParser, ArgumentTypeError
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from analytics.operations import logs


class Command(BaseCommand):
    help = "Print the last log lines as [LEVEL] message; --follow keeps printing new ones."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--lines", type=_positive, default=100, help="How many lines (default 100)."
        )
        parser.add_argument("--follow", action="store_true", help="Keep printing new lines.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.LOG_FILE)
        if not path.exists():
            # Removed by hand or by logrotate: the server opens it again at its next line.
            self.stderr.write(f"No log file at {path}: the server starts one at its next log line.")
        for entry in logs.history(path, lines=options["lines"]):
            self._print(entry)
        if options["follow"]:
            self.stdout.write("--- Live logs ---")
            self._follow(path)

    def _follow(self, path: Path) -> None:
        offset = path.stat().st_size if path.exists() else 0
        try:
            while True:
                offset = self._print_new(path, offset)
                time.sleep(0.5)
        except KeyboardInterrupt:
            return

    def _print_new(self, path: Path, offset: int) -> int:
        if not path.exists():
            return 0
        if path.stat().st_size < offset:
            offset = 0  # rotated: the new file starts from scratch
        with path.open(encoding="utf-8", errors="replace") as handle:
            handle.seek(offset)
            for line in handle:
                entry = logs.parse(line)
                if entry is not None:
                    self._print(entry)
            return handle.tell()

    def _print(self, entry: dict) -> None:
        self.stdout.write(f"[{entry['level']}] {entry['msg']}")
        self.stdout.flush()


# More than the log files hold (LOG_FILE_MAX_MB x backups); a number past the machine's
# sizes was a traceback.
MAX_LINES = 10_000_000


def _positive(text: str) -> int:
    """A count of lines: `--lines -5` or `0` is refused, not read as one line."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LINES:
        raise ArgumentTypeError(f"must be a whole number from 1 to {MAX_LINES:,}, not {text!r}")
    return value
