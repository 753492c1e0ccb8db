"""Django's handler500: a database that cannot answer is a 503 that says so.

A full disk, a read-only or locked SQLite file, a PostgreSQL that is down or restarting:
every page (the admin's login too, whose session write fails) was Django's bare
"Server Error (500)", which tells the user nothing they can act on. The proxy itself
keeps serving meanwhile (its recorder waits for the database), so the page says that too.
Under /api/ the answer becomes `{"error": ...}` in `ccflare_site.middleware`.
"""

import sys

from django.db import InterfaceError, InternalError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.views import defaults

# InternalError: PostgreSQL's read-only transaction (as the API's own handler).
DATABASE_AWAY = (OperationalError, InterfaceError, InternalError)
RETRY_AFTER_SECONDS = 5


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls the handler inside its `except` block: the exception is at hand.
    error = sys.exc_info()[1]
    if not isinstance(error, DATABASE_AWAY):
        return defaults.server_error(request)
    # Rendered without the request: the context processors would ask the database (the user).
    body = loader.render_to_string("503_database.html", {"reason": str(error).strip()})
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
