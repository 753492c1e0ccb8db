"""The accounts' work in the background: usage polling (accounts.usage_check) and asking
again about rejected credentials (accounts.recheck)."""

from accounts import recheck, usage_check


def ensure_started() -> None:
    """Start both on the running event loop, once each; cheap to call per request."""
    usage_check.ensure_polling()
    recheck.ensure_running()
