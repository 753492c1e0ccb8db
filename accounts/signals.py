"""What happens to accounts that someone may want to hear about, announced as Django signals.

`accounts` imports no other app (docs/architecture.md): it says what happened, and listeners
elsewhere (notifications, in analytics) decide what to do about it. The signals are
sent with `send_robust`, so a broken listener is logged and never fails a request.

- `account_needs_reauth(account_name, reason)`: the account's credential was rejected
  just now (it was usable before);
- `window_nearly_full(account_name, window, utilization)`: the account's 5-hour or
  7-day window went from below WINDOW_ALERT_AT to at or above it;
- `pool_exhausted(status, message)`: a request got the proxy's own 429/503 because no
  account could serve it;
- `accounts_changed(changes)`: accounts were written without a model save (a queryset
  update, the token code's direct update), so no post_save tells the live dashboard;
  `changes` is a list of (account id, name);
- `token_refreshed(outcome)`: an OAuth refresh ended `ok`, `failed` or `rejected`.
"""

from typing import Any

from django.dispatch import Signal

from accounts.models import Account

account_needs_reauth = Signal()
window_nearly_full = Signal()
pool_exhausted = Signal()
accounts_changed = Signal()
token_refreshed = Signal()

# A window this full is worth a warning: at 90% a busy session has minutes, not hours, left.
WINDOW_ALERT_AT = 0.9

_WINDOWS = {"five_hour_utilization": "5-hour", "seven_day_utilization": "7-day"}
_WATCHED = frozenset({"reauth_reason", *_WINDOWS})


def announce_changes(account: Account, fields: dict[str, Any]) -> None:
    """Send the signals that writing `fields` to `account` amounts to.

    Call it before the fields are set on `account`: it compares them with the values
    the account holds now, so only a transition is announced, never a state that merely
    stays (every response repeats the window headers).
    """
    if _WATCHED.isdisjoint(fields):
        return
    if fields.get("reauth_reason") and not account.reauth_reason:
        account_needs_reauth.send_robust(
            Account, account_name=account.name, reason=fields["reauth_reason"]
        )
    for name, window in _WINDOWS.items():
        if _crosses(getattr(account, name), fields.get(name)):
            window_nearly_full.send_robust(
                Account, account_name=account.name, window=window, utilization=fields[name]
            )


def announce_exhausted(*, status: int, message: str) -> None:
    """Tell listeners that a request found no account to serve it (the proxy's own 429/503)."""
    pool_exhausted.send_robust(Account, status=status, message=message)


def announce_written(changes: list[tuple[Any, str]]) -> None:
    """Tell listeners these accounts changed although no model save ran."""
    accounts_changed.send_robust(Account, changes=changes)


def announce_refresh(outcome: str) -> None:
    token_refreshed.send_robust(Account, outcome=outcome)


def _crosses(before: float | None, after: float | None) -> bool:
    return after is not None and after >= WINDOW_ALERT_AT and (before or 0.0) < WINDOW_ALERT_AT
