"""Getting credentials into a named account: the two-step OAuth login, long-lived tokens
and API keys.

One implementation behind the `add_account` command, the admin's "Add Claude
account" page and POST /api/oauth/init + /callback. A name that already exists
is re-authenticated: its credentials are replaced and its health cleared, which
is how an account leaves "needs re-auth". The protocol itself is `accounts.oauth`.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import health, lifecycle, oauth, validation
from accounts.models import TIERS, Account, OAuthSession
from accounts.pool import pool

_V = TypeVar("_V")  # what a validation.clean_* function takes and gives back

logger = logging.getLogger(__name__)

EXPIRED_MESSAGE = "OAuth session expired or invalid. Please try again."
# Said at step 2 when the name is an existing account's (`Started.reauth`); the dashboard
# says the same words.
REPLACES_MESSAGE = "An account with this name exists: finishing will replace its credentials."
MODE_LABELS = {"max": "Claude Max", "console": "Claude Console"}
NO_REFRESH_TOKEN_MESSAGE = (
    "Anthropic's answer to the login carried no refresh token, so the account could not stay "
    "logged in; nothing was saved. Please log in again."
)


class OnboardingError(ValueError):
    """Input or a login that cannot be accepted; the message is user-facing."""


@dataclass(frozen=True, slots=True)
class Started:
    session_id: uuid.UUID
    auth_url: str
    # True when the name exists: finishing replaces that account's credentials.
    reauth: bool


@dataclass(frozen=True, slots=True)
class Finished:
    account: Account
    created: bool
    mode: str

    @property
    def message(self) -> str:
        verb = "added" if self.created else "re-authenticated"
        return f"Account '{self.account.name}' {verb} successfully!"


@dataclass(frozen=True, slots=True)
class Credentials:
    kind: str
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None
    api_key: str | None = None


async def start(
    *, name: str, mode: str = "max", tier: int | None = None, priority: int | None = None
) -> Started:
    """Step 1: validate, remember a pending login for 10 minutes, return the URL to open.

    Raises OnboardingError for an invalid name, mode or tier.
    """
    name = _clean(validation.clean_name, name)
    _check(mode=mode, tier=tier, priority=priority)
    await asweep_expired()
    pkce, state = oauth.new_pkce(), oauth.new_state()
    existing = await Account.objects.filter(name=name).only("pk").afirst()
    session = await OAuthSession.objects.acreate(
        account_name=name,
        account=existing,
        verifier=pkce.verifier,
        state=state,
        mode=mode,
        tier=tier,
        priority=priority,
    )
    url = oauth.authorize_url(mode=mode, challenge=pkce.challenge, state=state)
    return Started(session_id=session.id, auth_url=url, reauth=existing is not None)


async def finish(*, session_id: str | uuid.UUID, pasted_code: str) -> Finished:
    """Step 2: trade the pasted `code#state` for credentials and save them on the account.

    1. Load the pending login (unknown or expired: OnboardingError(EXPIRED_MESSAGE)).
    2. Check the pasted state is this login's, then exchange the code.
    3. Max mode keeps the tokens (refused without a refresh token); console mode creates
       a permanent API key and keeps only it.
    4. Create or update the account, forget the pending login.
    Raises OnboardingError, or oauth.OAuthError when the OAuth endpoint fails.
    """
    session = await _pending(session_id)
    try:
        code, state = oauth.parse_code(pasted_code)
    except oauth.OAuthError as error:
        raise OnboardingError(str(error)) from None
    if state is not None and state != session.state:
        raise OnboardingError("That code belongs to another login attempt. Please try again.")
    grant = await oauth.exchange_code(code=code, state=session.state, verifier=session.verifier)
    credentials = await _credentials_for(session.mode, grant)
    account, created = await sync_to_async(save_credentials)(
        name=session.account_name,
        credentials=credentials,
        tier=session.tier,
        priority=session.priority,
        login=session,
    )
    await session.adelete()
    return Finished(account=account, created=created, mode=session.mode)


def add_setup_token(
    *, name: str, token: str, tier: int | None = None, priority: int | None = None
) -> Finished:
    """Store a long-lived token from `claude setup-token`: no refresh token, used until rejected."""
    name = _clean(validation.clean_name, name)
    token = _clean(validation.clean_token, token)
    credentials = Credentials(kind=Account.Kind.SETUP_TOKEN, access_token=token)
    return _save_given(name, credentials, mode="max", tier=tier, priority=priority)


def add_api_key(
    *, name: str, api_key: str, tier: int | None = None, priority: int | None = None
) -> Finished:
    """Store a Console API key the user already has: a new account, or the new key of one that
    exists (how a key in "needs re-auth" is replaced from the command line)."""
    name = _clean(validation.clean_name, name)
    api_key = _clean(validation.clean_api_key, api_key)
    credentials = Credentials(kind=Account.Kind.API_KEY, api_key=api_key)
    return _save_given(name, credentials, mode="console", tier=tier, priority=priority)


def _save_given(
    name: str, credentials: Credentials, *, mode: str, tier: int | None, priority: int | None
) -> Finished:
    """A credential the user brings (no login): checked, then saved under `name`."""
    _check(mode=mode, tier=tier, priority=priority)
    account, created = save_credentials(
        name=name, credentials=credentials, tier=tier, priority=priority
    )
    return Finished(account=account, created=created, mode=mode)


def save_credentials(
    *,
    name: str,
    credentials: Credentials,
    tier: int | None,
    priority: int | None,
    login: OAuthSession | None = None,
) -> tuple[Account, bool]:
    """Put `credentials` on the account called `name`, creating it if needed.

    Every credential field is written, so nothing of the old kind survives
    (a console key replacing OAuth tokens leaves no tokens behind). Returns the
    account and whether it was created.

    `login`: the pending login (`finish`) they come from, which was started either for an
    existing account, whose credentials they replace whatever it is called now, or for a
    new account named `name`, refused if the name was taken meanwhile (another login
    finished first, an account renamed to it): the tokens must not land on an account
    nobody chose.
    """
    try:
        lifecycle.check_readable(besides=name)
    except lifecycle.AccountError as error:
        raise OnboardingError(str(error)) from None
    fields = {
        "kind": credentials.kind,
        "access_token": credentials.access_token,
        "refresh_token": credentials.refresh_token,
        "expires_at": credentials.expires_at,
        "api_key": credentials.api_key,
        **health.new_credentials(),
        **({} if tier is None else {"tier": tier}),
        **({} if priority is None else {"priority": priority}),
    }
    try:
        with transaction.atomic():
            account, created = _locked_account(name, fields, login)
            if not created:
                for field, value in fields.items():
                    setattr(account, field, value)
                account.save(update_fields=list(fields))
    except IntegrityError:
        raise OnboardingError(f"Account with name '{name}' already exists") from None
    name = account.name
    # This process's proxy sees the new credentials at once; others within
    # ACCOUNT_CACHE_SECONDS.
    pool.invalidate()
    logger.info(
        "accounts.credentials_saved account=%s kind=%s created=%s", name, account.kind, created
    )
    return account, created


def _locked_account(
    name: str, fields: dict[str, Any], login: OAuthSession | None
) -> tuple[Account, bool]:
    """The account the credentials go on, locked (created with `fields` if it is new)."""
    accounts = Account.objects.select_for_update()
    if login is None:  # a key or token the user brings: the account of that name
        return accounts.get_or_create(name=name, defaults=fields)
    if login.account_id is not None:
        # CASCADE deletes a login whose account is deleted; one deleted during the
        # exchange is caught here.
        account = accounts.filter(pk=login.account_id).first()
        if account is None:
            raise OnboardingError("The account this login was for has been deleted meanwhile.")
        return account, False
    if accounts.filter(name=name).exists():
        raise OnboardingError(
            f"An account named '{name}' was added meanwhile (another login, or a rename): "
            "nothing changed. Start the login again to replace its credentials."
        )
    return Account.objects.create(name=name, **fields), True


def sweep_expired() -> int:
    """Delete pending logins past their 10 minutes; returns how many."""
    deleted, _ = OAuthSession.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


async def asweep_expired() -> int:
    return await sync_to_async(sweep_expired)()


async def _pending(session_id: str | uuid.UUID) -> OAuthSession:
    await asweep_expired()
    try:
        return await OAuthSession.objects.aget(pk=uuid.UUID(str(session_id)))
    except (ValueError, OAuthSession.DoesNotExist):
        raise OnboardingError(EXPIRED_MESSAGE) from None


async def _credentials_for(mode: str, grant: oauth.TokenGrant) -> Credentials:
    """A Max login's refreshable tokens, or a console login's permanent API key.

    ccflare turned a Max login that came back without a refresh token into an API key.
    A Max token has no scope to create one, and if it had, the account would be billed
    per token instead of by the subscription: the login is refused instead, saving
    nothing, so the user simply logs in again (docs/compatibility.md).
    """
    if mode == "max":
        if not grant.refresh_token:
            raise OnboardingError(NO_REFRESH_TOKEN_MESSAGE)
        return Credentials(
            kind=Account.Kind.OAUTH,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=grant.expires_at,
        )
    api_key = await oauth.create_api_key(access_token=grant.access_token)
    return Credentials(kind=Account.Kind.CONSOLE, api_key=api_key)


def _clean(clean: Callable[[_V], _V], value: _V) -> _V:
    """`clean(value)`, its ValidationError as an OnboardingError."""
    try:
        return clean(value)
    except ValidationError as error:
        raise OnboardingError(validation.message(error)) from None


def _check(*, mode: str, tier: int | None, priority: int | None) -> None:
    if mode not in MODE_LABELS:
        raise OnboardingError("Mode must be 'max' or 'console'")
    if tier is not None and tier not in TIERS:
        raise OnboardingError(f"Tier must be one of {', '.join(map(str, TIERS))}")
    if priority is not None:
        _clean(validation.clean_priority, priority)
