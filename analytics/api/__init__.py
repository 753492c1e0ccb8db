"""HTTP routes of the analytics app, one router per concern, each mounted in `ccflare_site.api`.

`health` (/health, /metrics at the root), `stats` (/api/stats), `requests`
(/api/requests), `report` (/api/analytics), `config` (/api/config and
/api/strategies), `maintenance` (/api/maintenance), `logs` (/api/logs). Handlers
are thin: they validate through `analytics.schemas`, call a reporting or
operations module and return ccflare's JSON shapes (docs/api.md). Everything but
/health needs a staff session or an API token (the API's default auth).

The operation ids (`analytics_api_<handler>`) are the ones ninja derived when these
routes were one module, `analytics/api.py`; they are given explicitly so that the
OpenAPI schema, and clients generated from it, keep them.
"""
