"""Account life cycle: create, look up, pause, resume and remove accounts by name.

Shared by the management commands, the admin and the API, so every entry point
enforces the same rules and reports the same messages. Selection of the account
that serves a request lives in `accounts.selection`, not here.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import TIERS, Account


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; the message is user-facing."""


def create_api_key_account(*, name: str, api_key: str, tier: int = 1, priority: int = 0) -> Account:
    """Create and return an API-key account; the key is stored encrypted.

    Raises AccountError for an invalid or taken name, an unknown tier or an
    empty key.
    """
    api_key = api_key.strip()
    if not api_key:
        raise AccountError("API key must not be empty")
    account = Account(
        name=name, kind=Account.Kind.API_KEY, api_key=api_key, tier=tier, priority=priority
    )
    _validate(account)
    return _insert(account)


def get_account(*, name: str) -> Account:
    """The account called `name`; raises AccountError when there is none."""
    try:
        return Account.objects.get(name=name)
    except Account.DoesNotExist:
        raise AccountError(f"Account '{name}' not found") from None


def pause_account(*, name: str) -> Account:
    """Take the account out of rotation; raises AccountError if unknown or already paused."""
    account = get_account(name=name)
    if account.paused:
        raise AccountError(f"Account '{name}' is already paused")
    account.paused = True
    account.save(update_fields=["paused"])
    return account


def resume_account(*, name: str) -> Account:
    """Put a paused account back in rotation; raises AccountError if unknown or not paused."""
    account = get_account(name=name)
    if not account.paused:
        raise AccountError(f"Account '{name}' is not paused")
    account.paused = False
    account.save(update_fields=["paused"])
    return account


def remove_account(*, name: str) -> None:
    """Delete the account; raises AccountError when there is none."""
    get_account(name=name).delete()


def _validate(account: Account) -> None:
    # Checked before full_clean so these get our wording rather than Django's
    # generic "Account with this Name already exists." / "not a valid choice".
    if account.tier not in TIERS:
        raise AccountError(f"Tier must be one of {', '.join(map(str, TIERS))}")
    if Account.objects.filter(name=account.name).exists():
        raise AccountError(f"Account with name '{account.name}' already exists")
    try:
        account.full_clean()
    except ValidationError as error:
        raise AccountError(_describe(error)) from None


def _insert(account: Account) -> Account:
    # A concurrent create can still win the race between the check and the
    # insert; the unique constraint is the real guard.
    try:
        with transaction.atomic():
            account.save(force_insert=True)
    except IntegrityError:
        raise AccountError(f"Account with name '{account.name}' already exists") from None
    return account


def _describe(error: ValidationError) -> str:
    """One line such as "Invalid name: Use letters, digits, ...", per failing field."""
    return "; ".join(
        f"Invalid {field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
    )
