"""Which headers carry credentials: never stored, logged or shown, whoever sent them.

By name (this API's and the web's), and by how other services name theirs (Google's
`x-goog-api-key`, `x-auth-token`, `x-amz-security-token`, and the gateways an upstream
may be: `helicone-auth`, `cf-aig-authorization`, `ocp-apim-subscription-key`, ...), since
a client may send any of them through the proxy. Names are compared in lower case.
"""

REDACTED = "[REDACTED]"
NAMES = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"})
SUFFIXES = ("apikey", "-key", "-token", "-secret", "-password", "-auth", "authorization")


def is_secret(name: str) -> bool:
    """Whether a header called `name` (in lower case) carries a credential."""
    return name in NAMES or name.endswith(SUFFIXES)
