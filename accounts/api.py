"""HTTP routes for accounts (/api/accounts, SPEC §6.3); the rules live in accounts.services."""

from datetime import UTC, datetime

from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router

from accounts import services
from accounts.models import Account
from accounts.pool import pool
from accounts.schemas import AccountIn, ConfirmIn, PriorityIn, RenameIn, TierIn, account_json
from ccflare_site.errors import ApiError

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
    account = services.find_account(ref=ref)
    if body.confirm != account.name:
        raise ApiError(
            400,
            "Confirmation string does not match account name",
            {"confirmationRequired": True},
        )
    services.remove_account(name=account.name)
    return _changed({"success": True, "message": f"Account '{account.name}' removed successfully"})


@router.post("/{ref}/pause", operation_id="pause_account")
def pause_account(request: HttpRequest, ref: str) -> dict:
    account = services.pause_account(name=services.find_account(ref=ref).name)
    return _changed({"success": True, "message": f"Account '{account.name}' paused successfully"})


@router.post("/{ref}/resume", operation_id="resume_account")
def resume_account(request: HttpRequest, ref: str) -> dict:
    account = services.resume_account(name=services.find_account(ref=ref).name)
    return _changed({"success": True, "message": f"Account '{account.name}' resumed successfully"})


@router.post("/{ref}/tier", operation_id="set_account_tier")
def set_tier(request: HttpRequest, ref: str, body: TierIn) -> dict:
    account = services.set_tier(account=services.find_account(ref=ref), tier=body.tier)
    return _changed({"success": True, "tier": account.tier})


@router.post("/{ref}/priority", operation_id="set_account_priority")
def set_priority(request: HttpRequest, ref: str, body: PriorityIn) -> dict:
    account = services.set_priority(account=services.find_account(ref=ref), priority=body.priority)
    return _changed({"success": True, "priority": account.priority})


@router.post("/{ref}/rename", operation_id="rename_account")
def rename_account(request: HttpRequest, ref: str, body: RenameIn) -> dict:
    account = services.find_account(ref=ref)
    old_name = account.name
    services.rename_account(account=account, new_name=body.name)
    return _changed(
        {
            "success": True,
            "message": f"Account renamed from '{old_name}' to '{account.name}'",
            "newName": account.name,
        }
    )


def _changed(reply: dict) -> dict:
    # This process's proxy sees the change at once; others within ACCOUNT_CACHE_SECONDS.
    pool.invalidate()
    return reply


def _create(body: AccountIn) -> Account:
    if body.apiKey is not None:
        return services.create_api_key_account(
            name=body.name, api_key=body.apiKey, tier=body.tier, priority=body.priority
        )
    expires = datetime.fromtimestamp(body.expiresAt / 1000, tz=UTC) if body.expiresAt else None
    return services.create_token_account(
        name=body.name,
        access_token=body.accessToken,
        refresh_token=body.refreshToken,
        expires_at=expires,
        tier=body.tier,
        priority=body.priority,
    )
