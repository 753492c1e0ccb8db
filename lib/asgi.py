"""Names of the ASGI scope extensions that ccflare's server side hands to its handlers."""

# An asyncio future that completes when the client goes before its answer is finished
# (set by ccflare_site.web_request under daphne; read by proxy.handler).
CLIENT_GONE = "ccflare.client_gone"

# A key of an `http.response.body` message: when true, the server closes the client's
# connection at once instead of ending the answer. For an answer cut midway that must not
# look complete: without a chunked terminator, or short of its Content-Length, the client
# sees the cut (ccflare_site.web_request under daphne; other servers end the answer).
# The message's body is not sent: the answer is cut where it stands.
ABORT = "ccflare.abort"
