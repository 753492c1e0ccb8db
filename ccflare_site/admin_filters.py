"""A changelist filtered by a malformed regex, or by text with a NUL character, is a bad
filter, answered as the admin answers one (back to the list with `?e=1`), not as the
database being away or a 500.

Any field's `__regex` / `__iregex` lookup can be put in a changelist's URL
(`?name__regex=(`), and the database refuses the pattern when the list is read: SQLite,
whose REGEXP is Python's `re` run by Django, with an OperationalError, which read as "the
database cannot answer" (a 503); PostgreSQL with a DataError (a 500). PostgreSQL's text
cannot hold a NUL character either (`?name=%00`), which psycopg refuses
with a DataError before sending. Only the exception is looked at, as in admin_selection:
nothing runs on a request that raises nothing.
"""

import re

from django.contrib.admin.views.main import ERROR_FLAG
from django.db import DataError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.deprecation import MiddlewareMixin

from ccflare_site.admin_selection import ADMIN_PREFIX

REGEX_LOOKUPS = ("__regex", "__iregex")
INVALID_REGULAR_EXPRESSION = "2201B"  # PostgreSQL's SQLSTATE for it


class AdminFilterCheck(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(ADMIN_PREFIX):
            return None
        if not (_refused_pattern(request, exception) or _refused_nul(request, exception)):
            return None
        return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")


def _refused_pattern(request: HttpRequest, exception: Exception) -> bool:
    """Whether `exception` is the database refusing one of the request's regex filters."""
    patterns = [
        pattern
        for key, values in request.GET.lists()
        if key.endswith(REGEX_LOOKUPS)
        for pattern in values
    ]
    if not patterns:
        return False
    if isinstance(exception, DataError):
        return getattr(exception.__cause__, "sqlstate", None) == INVALID_REGULAR_EXPRESSION
    return isinstance(exception, OperationalError) and any(map(_malformed, patterns))


def _refused_nul(request: HttpRequest, exception: Exception) -> bool:
    """Whether `exception` is PostgreSQL's driver refusing a filter's NUL character."""
    return isinstance(exception, DataError) and any(
        "\x00" in value for _, values in request.GET.lists() for value in values
    )


def _malformed(pattern: str) -> bool:
    # Exactly SQLite's test: Django's REGEXP function compiles the pattern with `re`.
    try:
        re.compile(pattern)
    except re.error:
        return True
    return False
