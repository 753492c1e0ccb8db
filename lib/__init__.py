"""Plumbing that every app may import: it imports no app and no project package.

Only what several apps share and that belongs to none of them lives here (see
docs/architecture.md): `shared_run` (one in-flight run of a coroutine many callers
need), `api_errors` (the HTTP API's one error type and shape) and `live_hub` (the
channel layer the WORKERS of one server share live events through).
"""
