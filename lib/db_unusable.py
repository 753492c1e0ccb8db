"""A database failure that no wait mends, and the one line that says what the database said.

The server's start refuses such a database (ccflare_site/serve.py); every request would
otherwise be a 503 for as long as it runs. manage.py says any database failure in the
same line.
"""

import sqlite3

from django.db import DatabaseError

# SQLite's primary result codes for a corrupt file, one that cannot be opened (its folder
# missing, a folder itself, no permission) and one that is not a database. Busy and
# locked (5, 6) pass with time; PostgreSQL's failures at start (a server still starting)
# are not judged here.
_FOR_GOOD = frozenset({11, 14, 26})


def for_good(error: DatabaseError) -> bool:
    """Whether `error` (Django's, wrapping the driver's) says the database can never serve."""
    cause = error.__cause__
    return isinstance(cause, sqlite3.Error) and cause.sqlite_errorcode & 0xFF in _FOR_GOOD


def said(error: DatabaseError) -> str:
    """What the database said, in one line (a corrupt file, a database server away)."""
    return f"the database cannot be used: {str(error).splitlines()[0]}"
