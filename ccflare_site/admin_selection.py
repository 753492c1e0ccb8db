"""An admin action on items that are not ids of its list is a 400, not a 500.

Django's changelist runs an action on the rows whose primary keys were posted
(`_selected_action`) and raises on a value that cannot be one (`not-a-uuid` for an
account, `abc` for a user). Only a crafted form sends one, but the answer was a 500 and an
ERROR with Django's traceback in the log. Only the exception is looked at: nothing runs
on a request that raises nothing.
"""

from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.deprecation import MiddlewareMixin

ADMIN_PREFIX = "/admin/"


class AdminSelectionCheck(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ValueError | ValidationError) or request.method != "POST":
            return None
        if not request.path.startswith(ADMIN_PREFIX):
            return None
        if helpers.ACTION_CHECKBOX_NAME not in request.POST:
            return None
        return HttpResponseBadRequest(
            "The selected items are not items of this list.", content_type="text/plain"
        )
