#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccflare_site.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A setting's own message (ccflare_site/settings.py) names it: no traceback.
        sys.exit(f"ccflare: {error}")
    except OperationalError as error:
        if not str(error).startswith("no such table"):
            raise
        sys.exit("ccflare: the database is not set up yet: run `python manage.py migrate`")


if __name__ == "__main__":
    main()
