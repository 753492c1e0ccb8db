"""Names of the ASGI scope extensions that ccflare's server side hands to its handlers."""

# An asyncio future that completes when the client goes before its answer is finished
# (set by ccflare_site.web_request under daphne; read by proxy.handler).
CLIENT_GONE = "ccflare.client_gone"
