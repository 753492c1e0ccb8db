"""Django's error handlers: a database that cannot answer is a 503 that says so (500),
a body over Django's limit a 413 (400).

A full disk, a read-only or locked SQLite file, a PostgreSQL that is down or restarting:
every page (the admin's login too, whose session write fails) was Django's bare
"Server Error (500)", which tells the user nothing they can act on. The proxy itself
keeps serving meanwhile (its recorder waits for the database), so the page says that too.
Under /api/ the answer becomes `{"error": ...}` in `ccflare_site.middleware`. An outage's
503s are logged as one (lib.outage_log), not each with Django's line and traceback.
"""

import logging
import sys

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template import loader
from django.views import defaults

from ccflare_site.middleware import is_api_path
from lib import db_away
from lib.api_errors import error_response
from lib.outage_log import OutageLog

DATABASE_AWAY = db_away.AWAY
RETRY_AFTER_SECONDS = 5

# One per process: the pages', the API's and the answer deadline's 503s of one outage.
_outage = OutageLog(logging.getLogger(__name__), "web.database_away")


def log_database_away(path: str, error: object) -> None:
    """Log a request the database failed as lib.outage_log does: a line, then one a minute."""
    _outage.failed(path=path, error=error)


def log_database_away_answer(
    request: HttpRequest, response: HttpResponseBase, error: object
) -> None:
    """Log `response` by log_database_away, and skip Django's own log of it (a line per
    request in django.request, and the traceback for a page)."""
    log_database_away(request.path, error)
    # Django's own mark of a response it has logged (django.utils.log.log_response).
    setattr(response, "_has_been_logged", True)  # noqa: B010


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls the handler inside its `except` block: the exception is at hand.
    error = sys.exc_info()[1]
    if not isinstance(error, DATABASE_AWAY):
        return defaults.server_error(request)
    # Rendered without the request: the context processors would ask the database (the user).
    body = loader.render_to_string("503_database.html", {"reason": str(error).strip()})
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    log_database_away_answer(request, response, error)
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's handler400, saying what was wrong where Django's page says "Bad Request".

    A body over Django's limit is the 413 it is, saying the limit: it was a 400 (and a
    traceback in the log) for any form or API body over 2.5 MB, the admin's login form
    too. A Host not in ALLOWED_HOSTS says so, as /v1/ does.
    """
    if isinstance(exception, RequestDataTooBig):
        limit_mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
        return _plain(request, 413, f"Request body too large: at most {limit_mb:.1f} MB here")
    if isinstance(exception, DisallowedHost):
        return _plain(request, 400, "Invalid Host header")
    return defaults.bad_request(request, exception)


def _plain(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """`message` as the API's `{"error": ...}` under /api/, as text elsewhere."""
    if is_api_path(request.path):
        return error_response(status, message)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
