"""Who may call /api/: a staff session (Django login) or an API token (Authorization: Bearer).

Used as the NinjaAPI's default auth, and as the decorator guarding /api/docs and
/api/openapi.json, so the docs need exactly what the API needs.
"""

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer

from access import credentials
from access.grants import is_staff
from access.models import ApiToken


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        return credentials.authenticate_token(token)


class StaffSessionAuth(APIKeyCookie):
    """A logged-in staff user; unsafe methods also need the CSRF token, as in the admin."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # No session cookie: not a browser session, so no CSRF check to fail
        # (a token client without credentials should get 401, not a CSRF 403).
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key is None or not request.user.is_authenticated:
            return None
        if not is_staff(request.user):
            raise HttpError(403, STAFF_REQUIRED)
        return request.user


api_auth = [ApiTokenAuth(), StaffSessionAuth()]


def is_allowed(request: HttpRequest) -> bool:
    """Staff session or valid API token (for plain Django views such as the docs)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and credentials.authenticate_token(header[7:].strip()):
        return True
    return is_staff(request.user)


AUTHENTICATION_REQUIRED = (
    "Authentication required: a staff session or Authorization: Bearer <API token>"
)
STAFF_REQUIRED = "Staff access required"


def require_api_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The API's own answers for a plain view: 403 for a login without staff rights, 401
    (asking for a Bearer token) for no valid credential."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_allowed(request):
            return view(request, *args, **kwargs)
        if request.user.is_authenticated:
            return JsonResponse({"error": STAFF_REQUIRED}, status=403)
        response = JsonResponse({"error": AUTHENTICATION_REQUIRED}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response

    return guarded
