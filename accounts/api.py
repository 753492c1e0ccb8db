"""HTTP routes for accounts (/api/accounts, docs/api.md); the rules live in accounts.lifecycle."""

from datetime import UTC, datetime

from asgiref.sync import async_to_sync
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from accounts import lifecycle, usage_check
from accounts.models import Account
from accounts.pool import pool
from accounts.schemas import AccountIn, ConfirmIn, PriorityIn, RenameIn, TierIn, account_json
from lib.api_errors import ApiError

router = Router(tags=["accounts"])


@router.get("", operation_id="list_accounts")
def list_accounts(request: HttpRequest) -> list[dict]:
    now = timezone.now()
    accounts = Account.objects.order_by("-request_count", Lower("name"))
    return [account_json(a, now=now) for a in accounts]


@router.post("", operation_id="add_account")
def add_account(request: HttpRequest, body: AccountIn) -> dict:
    account = _create(body)
    return _changed(
        {
            "success": True,
            "message": f"Account {account.name} added successfully",
            "tier": account.tier,
            "accountId": str(account.pk),
        }
    )


@router.delete("/{ref}", operation_id="delete_account")
def delete_account(request: HttpRequest, ref: str, body: ConfirmIn) -> dict:
    """`ref` is the account's id or its name (ccflare's dashboard sends the name)."""
    account = lifecycle.find_account(ref=ref)
    if body.confirm != account.name:
        raise ApiError(
            400,
            "Confirmation string does not match account name",
            {"confirmationRequired": True},
        )
    lifecycle.remove_account(name=account.name)
    return _changed({"success": True, "message": f"Account '{account.name}' removed successfully"})


@router.post("/{ref}/pause", operation_id="pause_account")
def pause_account(request: HttpRequest, ref: str) -> dict:
    account = lifecycle.pause_account(name=lifecycle.find_account(ref=ref).name)
    return _changed({"success": True, "message": f"Account '{account.name}' paused successfully"})


@router.post("/{ref}/resume", operation_id="resume_account")
def resume_account(request: HttpRequest, ref: str) -> dict:
    account = lifecycle.resume_account(name=lifecycle.find_account(ref=ref).name)
    return _changed({"success": True, "message": f"Account '{account.name}' resumed successfully"})


@router.post("/{ref}/clear-rate-limit", operation_id="clear_account_rate_limit")
def clear_rate_limit(request: HttpRequest, ref: str) -> dict:
    """Lift the account's rate limit, per-model caps and cooldown (the admin's action)."""
    account = lifecycle.clear_rate_limit(name=lifecycle.find_account(ref=ref).name)
    return _changed({"success": True, "message": f"Account '{account.name}' rate limit cleared"})


@router.post("/{ref}/tier", operation_id="set_account_tier")
def set_tier(request: HttpRequest, ref: str, body: TierIn) -> dict:
    account = lifecycle.set_tier(account=lifecycle.find_account(ref=ref), tier=body.tier)
    return _changed({"success": True, "tier": account.tier})


@router.post("/{ref}/priority", operation_id="set_account_priority")
def set_priority(request: HttpRequest, ref: str, body: PriorityIn) -> dict:
    account = lifecycle.set_priority(
        account=lifecycle.find_account(ref=ref), priority=body.priority
    )
    return _changed({"success": True, "priority": account.priority})


@router.post("/{ref}/rename", operation_id="rename_account")
def rename_account(request: HttpRequest, ref: str, body: RenameIn) -> dict:
    account = lifecycle.find_account(ref=ref)
    old_name = account.name
    lifecycle.rename_account(account=account, new_name=body.name)
    return _changed(
        {
            "success": True,
            "message": f"Account renamed from '{old_name}' to '{account.name}'",
            "newName": account.name,
        }
    )


@router.post(
    "/{ref}/usage",
    response={200: dict, 400: dict, 502: dict},
    operation_id="check_account_usage",
)
def check_usage(request: HttpRequest, ref: str) -> Status:
    """Read a Claude Pro/Max account's windows from Anthropic's usage endpoint now.

    Answers the account as /api/accounts lists it; 400 for an account with no usage
    endpoint, 502 when the endpoint could not be read (the account is left as it was).
    """
    account = lifecycle.find_account(ref=ref)
    if not usage_check.is_checkable(account):
        raise ApiError(400, "Only Claude Pro/Max OAuth accounts have a usage endpoint")
    async_to_sync(usage_check.check)(account)  # UsageCheckError: 502 (ccflare_site.api)
    return Status(
        200, _changed({"success": True, "account": account_json(account, now=timezone.now())})
    )


def _changed(reply: dict) -> dict:
    # This process's proxy sees the change at once; others within ACCOUNT_CACHE_SECONDS.
    pool.invalidate()
    return reply


def _create(body: AccountIn) -> Account:
    if body.apiKey is not None:
        return lifecycle.create_api_key_account(
            name=body.name, api_key=body.apiKey, tier=body.tier, priority=body.priority
        )
    # AccountIn.one_kind_of_credential: without an API key, both tokens are there.
    assert body.accessToken is not None and body.refreshToken is not None
    expires = None
    if body.expiresAt is not None:  # 0 too: the epoch, a token to refresh at once
        expires = datetime.fromtimestamp(body.expiresAt / 1000, tz=UTC)
    return lifecycle.create_token_account(
        name=body.name,
        access_token=body.accessToken,
        refresh_token=body.refreshToken,
        expires_at=expires,
        tier=body.tier,
        priority=body.priority,
    )
