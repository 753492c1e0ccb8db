"""Account life cycle: create, look up, pause, resume and remove accounts by name.

Shared by the management commands, the admin and the API, so every entry point
enforces the same rules and reports the same messages. Selection of the account
that serves a request lives in `accounts.selection`, not here.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction

from accounts import crypto, health, validation
from accounts.models import TIERS, Account
from accounts.pool import pool

_V = TypeVar("_V")  # what a validation.clean_* function takes and gives back


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; the message is user-facing."""


class AccountNotFound(AccountError):
    """The account asked for does not exist (the API answers 404)."""


def create_api_key_account(*, name: str, api_key: str, tier: int = 1, priority: int = 0) -> Account:
    """Create and return an API-key account; the key is stored encrypted.

    Raises AccountError for an invalid or taken name, an unknown tier or a
    value that cannot be an API key (accounts.validation).
    """
    check_readable()
    account = Account(
        name=_clean(validation.clean_name, name),
        kind=Account.Kind.API_KEY,
        api_key=_clean(validation.clean_api_key, api_key),
        tier=tier,
        priority=priority,
    )
    _validate(account)
    return _insert(account)


def unreadable_accounts() -> list[str]:
    """The accounts whose stored credentials this process's key cannot decrypt (saved
    with another ENCRYPTION_KEY, or SECRET_KEY without one), by name."""
    unreadable = []
    for pk, name in Account.objects.order_by("name").values_list("pk", "name"):
        try:
            list(Account.objects.filter(pk=pk).values_list(*ENCRYPTED_FIELDS))
        except crypto.Unreadable:
            unreadable.append(name)
    return unreadable


ENCRYPTED_FIELDS = ("api_key", "access_token", "refresh_token")


def check_readable(*, besides: str | None = None) -> None:
    """Refuses a new credential when the stored ones (of accounts other than `besides`)
    were saved with another key: it would be saved with this process's, which the
    server's cannot read (or the reverse), and the server refuses to start so."""
    if unreadable := [name for name in unreadable_accounts() if name != besides]:
        raise AccountError(
            f"The credentials stored for {', '.join(unreadable)} cannot be decrypted with "
            "this ENCRYPTION_KEY (or SECRET_KEY, without one): run this with the key the "
            "server uses. Nothing changed."
        )


def get_account(*, name: str) -> Account:
    """The account called `name`; raises AccountError when there is none.

    Surrounding spaces are not part of a name (they are trimmed when one is given)."""
    try:
        return Account.objects.get(name=name.strip())
    except Account.DoesNotExist:
        raise AccountNotFound(f"Account '{name}' not found") from None


def pause_account(*, name: str) -> Account:
    """Take the account out of rotation; raises AccountError if unknown or already paused."""
    account = get_account(name=name)
    if account.paused:
        raise AccountError(f"Account '{name}' is already paused")
    account.paused = True
    _save(account, ["paused"])
    return account


def resume_account(*, name: str) -> Account:
    """Put a paused account back in rotation; raises AccountError if unknown or not paused."""
    account = get_account(name=name)
    if not account.paused:
        raise AccountError(f"Account '{name}' is not paused")
    account.paused = False
    _save(account, ["paused"])
    return account


def clear_rate_limit(*, name: str) -> Account:
    """Lift every rate limit and cooldown, as the admin's action does; raises if unknown."""
    account = get_account(name=name)
    fields = health.cleared()
    for field, value in fields.items():
        setattr(account, field, value)
    _save(account, list(fields))
    # This process's pool reloads now; no pool writes back a limit noted before the clear
    # (limits_cleared_at, accounts.pool._write).
    pool.invalidate()
    return account


def check_exists(*, name: str) -> None:
    """Raises AccountNotFound unless an account is called `name` (its credentials unread)."""
    if not Account.objects.filter(name=name.strip()).exists():
        raise AccountNotFound(f"Account '{name}' not found")


def remove_account(*, name: str) -> None:
    """Delete the account; raises AccountError when there is none. Its credentials are not
    read: an account saved with another key can be removed too."""
    # Deferred: the deletion's signals load the row, which would decrypt them.
    deleted, _ = Account.objects.filter(name=name.strip()).defer(*ENCRYPTED_FIELDS).delete()
    if not deleted:
        raise AccountNotFound(f"Account '{name}' not found")


def create_token_account(
    *,
    name: str,
    access_token: str,
    refresh_token: str,
    expires_at: datetime | None = None,
    tier: int = 1,
    priority: int = 0,
) -> Account:
    """Create an OAuth account from tokens obtained elsewhere (POST /api/accounts).

    With no `expires_at` the access token counts as expired, so it is refreshed
    on first use. Raises AccountError as create_api_key_account does.
    """
    check_readable()
    account = Account(
        name=_clean(validation.clean_name, name),
        kind=Account.Kind.OAUTH,
        access_token=_clean(partial(validation.clean_token, label="Access token"), access_token),
        refresh_token=_clean(partial(validation.clean_token, label="Refresh token"), refresh_token),
        expires_at=expires_at,
        tier=tier,
        priority=priority,
    )
    _validate(account)
    return _insert(account)


def find_account(*, ref: str) -> Account:
    """The account whose id or, failing that, name is `ref`; raises AccountNotFound."""
    try:
        account = Account.objects.filter(pk=uuid.UUID(ref)).first()
    except ValueError:
        account = None
    return account or get_account(name=ref)


def set_tier(*, account: Account, tier: int) -> Account:
    if tier not in TIERS:
        raise AccountError(f"Tier must be one of {', '.join(map(str, TIERS))}")
    account.tier = tier
    _save(account, ["tier"])
    return account


def set_priority(*, account: Account, priority: int) -> Account:
    """Raises AccountError for a priority out of range (accounts.validation)."""
    account.priority = _clean(validation.clean_priority, priority)
    _save(account, ["priority"])
    return account


def rename_account(*, account: Account, new_name: str) -> Account:
    """Rename; raises AccountError for an invalid name or one another account uses."""
    new_name = _clean(validation.clean_name, new_name)
    if Account.objects.filter(name=new_name).exclude(pk=account.pk).exists():
        raise AccountError(f"Account name '{new_name}' is already taken")
    old_name, account.name = account.name, new_name
    try:
        account.clean_fields(exclude=[f.name for f in Account._meta.fields if f.name != "name"])
    except ValidationError as error:
        raise AccountError(_describe(error)) from None
    try:
        with transaction.atomic():
            account.save(update_fields=["name"])
    except IntegrityError:
        raise AccountError(f"Account name '{new_name}' is already taken") from None
    except DatabaseError as error:
        _gone_or_raise(account, error, name=old_name)
    return account


def _save(account: Account, fields: list[str]) -> None:
    """Save these fields; an account deleted since it was looked up is AccountNotFound
    (two people at the API or admin: one deletes while the other pauses)."""
    try:
        with transaction.atomic():  # a savepoint within a caller's transaction
            account.save(update_fields=fields)
    except DatabaseError as error:
        _gone_or_raise(account, error, name=account.name)


def _gone_or_raise(account: Account, error: DatabaseError, *, name: str) -> None:
    """AccountNotFound when the account is gone (Django's save of update_fields then
    matched no row); else `error` itself."""
    if Account.objects.filter(pk=account.pk).exists():
        raise error
    raise AccountNotFound(f"Account '{name}' not found") from None


def _clean(clean: Callable[[_V], _V], value: _V) -> _V:
    """`clean(value)`, its ValidationError as an AccountError."""
    try:
        return clean(value)
    except ValidationError as error:
        raise AccountError(validation.message(error)) from None


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
