"""The single NinjaAPI: default auth, error mapping, and the routers of each app.

Errors all look like ccflare's: `{"error": message, "details"?: ...}`. Domain
exceptions are mapped here once, so handlers in the app routers never catch them.
"""

import json
from collections.abc import Callable
from typing import Any

from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger, _csrf_needed
from ninja.openapi.schema import OpenAPISchema

from access.auth import AUTHENTICATION_REQUIRED, api_auth, require_api_access
from access.credentials import AccessError
from access.keyrules import KeyNotFound
from accounts import usage_check
from accounts.lifecycle import AccountError, AccountNotFound
from accounts.oauth import GrantRejected, OAuthError
from accounts.onboarding import OnboardingError
from accounts.usage_check import UsageCheckError
from agents.catalog import UnknownModel
from agents.frontmatter import AgentFileError
from agents.services import AgentEditError, AgentNotFound
from analytics.operations.runtime import SetInEnvironment
from ccflare_site import errors, openapi
from lib.api_errors import ApiError, error_response


class Api(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        return openapi.document_errors(super().get_openapi_schema(**kwargs))


class LocalSwagger(Swagger):
    """Swagger UI from this server's own copy of its files, never a CDN.

    ninja renders its local page only when "ninja" is an installed app, which would load
    it at start-up in every process; its template and files are found through
    settings.NINJA_DIR instead, and the page is rendered as ninja renders it there.
    """

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": _csrf_needed(api),
        }
        return render(request, self.template, context)


api = Api(
    title="ccflare",
    version="0.1.0",
    description="ccflare's HTTP API: ccflare's paths and JSON shapes (docs/api.md). "
    "Authenticate with a staff session or `Authorization: Bearer <token>` "
    "(`manage.py create_api_token NAME`).",
    urls_namespace="api",
    docs=LocalSwagger(),
    docs_url="/api/docs",
    openapi_url="/api/openapi.json",
    docs_decorator=require_api_access,
    auth=api_auth,
)


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.message, exc.details)


# Domain errors whose message is the answer, by status: 4xx are the caller's to fix
# (a wrong, reused or expired login code included); 502 is Anthropic's side (its OAuth
# or usage endpoint failed). A subclass is found through its class's MRO (GrantRejected
# is an OAuthError, AccountNotFound an AccountError).
_PLAIN_ERRORS: dict[type[Exception], int] = {
    AccountNotFound: 404,
    AccountError: 400,
    OnboardingError: 400,
    GrantRejected: 400,
    OAuthError: 502,
    AccessError: 400,
    AgentNotFound: 404,
    UnknownModel: 400,
    AgentEditError: 400,
    AgentFileError: 400,
    KeyNotFound: 404,
}


def _answer_with(
    status: int,
) -> Callable[[HttpRequest, Exception | type[Exception]], HttpResponse]:
    def handler(request: HttpRequest, exc: Exception | type[Exception]) -> HttpResponse:
        return error_response(status, str(exc))

    return handler


for _error, _status in _PLAIN_ERRORS.items():
    api.add_exception_handler(_error, _answer_with(_status))


@api.exception_handler(UsageCheckError)
def on_usage_check_error(request: HttpRequest, exc: UsageCheckError) -> HttpResponse:
    # Anthropic's usage endpoint could not be read; the account is left as it was.
    if isinstance(exc, usage_check.OutOfResources):  # this process is short: try again soon
        response = error_response(503, f"Usage check failed: {exc}")
        response["Retry-After"] = "2"
        return response
    return error_response(502, f"Usage check failed: {exc}")


@api.exception_handler(SetInEnvironment)
def on_set_in_environment(request: HttpRequest, exc: SetInEnvironment) -> HttpResponse:
    message = f"Set in the environment, which wins over run-time changes: {exc}"
    return error_response(409, message, {"setInEnvironment": str(exc).split(", ")})


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # Only plain fields: pydantic's `ctx` may hold exception objects JSON cannot encode.
    details = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": _plain(str(e.get("msg", "")))}
        for e in exc.errors
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    field = first["loc"][-1] if first["loc"] else "request"
    return error_response(400, f"Invalid {field}: {first['msg']}", details)


def _plain(message: str) -> str:
    # Our validators' messages are sentences already (accounts.validation);
    # pydantic puts "Value error, " before each.
    return message.removeprefix("Value error, ")


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(401, AUTHENTICATION_REQUIRED)
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(exc.status_code, exc.message)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, str(exc) or "Not found")


def on_database_away(request: HttpRequest, exc: Exception | type[Exception]) -> HttpResponse:
    # A full disk, a locked or read-only database, a lost connection: the service's
    # trouble, not the request's, and a reason the user can act on instead of a bare 500.
    response = error_response(503, f"The database cannot take this request now: {exc}")
    response["Retry-After"] = str(errors.RETRY_AFTER_SECONDS)
    errors.log_database_away_answer(request, response, exc)
    return response


for database_away in errors.DATABASE_AWAY:
    api.add_exception_handler(database_away, on_database_away)


@api.exception_handler(DataError)
def on_data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
    # Input the database cannot hold, e.g. a NUL character (PostgreSQL refuses it).
    return error_response(400, "Invalid input: the database cannot store or match this value")


# Each concern's router at its prefix; /health and /metrics stay at the root.
api.add_router("", "analytics.api.health.router")
api.add_router("/api/stats", "analytics.api.stats.router")
api.add_router("/api/requests", "analytics.api.requests.router")
api.add_router("/api/analytics", "analytics.api.report.router")
api.add_router("/api/config/model", "agents.api.model_router")
api.add_router("/api/keys", "analytics.api.keys.router")
api.add_router("/api/config", "analytics.api.config.router")
api.add_router("/api/strategies", "analytics.api.config.strategies_router")
api.add_router("/api/maintenance", "analytics.api.maintenance.router")
api.add_router("/api/logs", "analytics.api.logs.router")
api.add_router("/api/accounts", "accounts.api.router")
api.add_router("/api/oauth", "accounts.oauth_api.router")
api.add_router("/api/agents", "agents.api.router")
api.add_router("/api/workspaces", "agents.api.workspaces_router")
