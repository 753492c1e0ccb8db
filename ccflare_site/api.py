"""The single NinjaAPI: routers of each app are mounted here."""

from ninja import NinjaAPI

api = NinjaAPI(title="ccflare", version="0.1.0", urls_namespace="api", docs_url="/api/docs")
api.add_router("", "analytics.api.router")
