"""The API's own error type, for answers no domain exception describes (e.g. a bad confirmation).

Raised by any app's router and turned into `{"error": message, "details": ...}`
by the handler registered in `ccflare_site.api` (apps raise it; only the project wires it).
"""

from typing import Any

from django.http import JsonResponse


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def error_response(status: int, message: str, details: object = None) -> JsonResponse:
    """The API's one error shape: `{"error": message}`, plus `"details"` when there are any."""
    body: dict = {"error": message}
    if details is not None:
        body["details"] = details
    return JsonResponse(body, status=status)
