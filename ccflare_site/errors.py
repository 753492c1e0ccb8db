"""The API's own error type, for answers no domain exception describes (e.g. a bad confirmation).

Raised by any app's router and turned into `{"error": message, "details": ...}`
by the handler registered in `ccflare_site.api`.
"""

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
