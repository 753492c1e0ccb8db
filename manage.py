#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import signal
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccflare_site.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    missing = _missing_database()
    if sys.stdin is None:
        # Started with stdin closed (`0<&-`): reading it is then an empty answer, which
        # every prompt refuses in its own words, not an AttributeError.
        sys.stdin = open(os.devnull)  # noqa: SIM115 (for the life of the process)
    try:
        execute_from_command_line(sys.argv)
    except KeyboardInterrupt:
        # Ctrl-C at a prompt is how a person cancels: no traceback, nor from a second one.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stderr.write("\nccflare: cancelled\n")
        sys.exit(130)
    except ImproperlyConfigured as error:
        # A setting's own message (ccflare_site/settings.py) names it: no traceback.
        sys.exit(f"ccflare: {error}")
    except ValueError as error:
        from accounts.crypto import Unreadable

        if not isinstance(error, Unreadable):
            raise
        sys.exit(
            f"ccflare: a stored {error} (`manage.py remove_account NAME --force` removes "
            "an account whatever its credentials)"
        )
    except DatabaseError as error:
        from lib import db_unusable

        if str(error).startswith("no such table"):
            if missing is not None:
                db_unusable.remove_if_empty(missing)  # what connecting made
            sys.exit(f"ccflare: {db_unusable.NOT_SET_UP}")
        sys.exit(f"ccflare: {db_unusable.said(error)}")


def _missing_database() -> Path | None:
    """The SQLite database's file if it is not there yet (a command will create it); None
    if it is, or on PostgreSQL, or if a bad setting stops every command anyway."""
    from django.core.exceptions import ImproperlyConfigured

    if any(arg.startswith(("--settings", "--pythonpath")) for arg in sys.argv):
        return None  # read here, the settings would be the default module's
    try:
        from lib import db_unusable

        return db_unusable.missing_sqlite_file()
    except ImproperlyConfigured:
        return None


if __name__ == "__main__":
    main()
