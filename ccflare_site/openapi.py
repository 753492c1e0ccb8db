"""The error answers of the OpenAPI schema: which statuses besides success each operation documents.

Ninja documents only what a route declares, but every route can also answer
with the errors mapped once in `ccflare_site.api`: 400 for input it refuses,
401/403 for the login, 404 for an id or name that does not exist. Listing them
lets clients (and schemathesis' status code check) know every answer to expect.
"""

from typing import Any, TypeVar

ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "details": {}},
    "required": ["error"],
}
_Schema = TypeVar("_Schema", bound=dict[str, Any])

DESCRIPTIONS = {
    400: "Invalid input: `error` says what, `details` lists the fields",
    401: "No staff session and no valid API token",
    403: "Not staff, or a session's change without its CSRF token",
    404: "No such account or request",
}


def document_errors(schema: _Schema) -> _Schema:
    """`schema` with the Error component and each operation's error answers added."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    for path, methods in schema["paths"].items():
        for operation in methods.values():
            for status in error_statuses(path, operation):
                operation["responses"].setdefault(status, _answer(DESCRIPTIONS[status]))
    return schema


def error_statuses(path: str, operation: dict[str, Any]) -> list[int]:
    statuses = []
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.append(400)
    if operation.get("security"):
        statuses += [401, 403]
    if "{" in path:
        statuses.append(404)
    return statuses


def _answer(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}
