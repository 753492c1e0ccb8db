"""The pool's health as GET /health reports it: can it serve, and why not (docs/api.md).

Kept apart from the API module so that the server can answer /health without loading
the API (ccflare_site/health.py).
"""

from django.utils import timezone

from accounts import selection
from accounts.pool import pool


async def report() -> tuple[int, dict]:
    """Status and body: 503 when accounts exist and none can serve, so a monitor can alert,
    and before the accounts could be read at all (a worker started while the database is
    away); 200 when one can, and with no accounts at all (requests then pass through).

    Read from the proxy's own snapshot (accounts.pool), marks not yet written included:
    what the proxy would do with a request now. While the database is away the proxy
    serves from it, and so /health tells the truth then too (it answered 500 after a
    PostgreSQL restart until the server was restarted).
    """
    now = timezone.now()
    accounts = await pool.accounts()
    unusable = [
        {"name": a.name, "reason": reason}
        for a in selection.routing_order(accounts)
        if (reason := selection.skip_reason(a, now=now)) is not None
    ]
    serving = pool.read and (not accounts or len(unusable) < len(accounts))
    body = {
        "status": "ok" if serving else "unavailable",
        "accounts": len(accounts),
        "usableAccounts": len(accounts) - len(unusable),
        "unusableAccounts": unusable,
        "timestamp": now.isoformat(),
        "strategy": "session",
    }
    if not pool.read:
        body["reason"] = "The accounts could not be read from the database yet"
    elif not serving:
        body["reason"] = "No account can serve: " + "; ".join(
            f"{u['name']} {u['reason']}" for u in unusable
        )
    return (200 if serving else 503), body
