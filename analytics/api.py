"""Read-side HTTP routes of the analytics app."""

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router

from accounts.models import Account

router = Router(tags=["health"])


@router.get("/health", auth=None)
async def health(request: HttpRequest) -> dict:
    return {
        "status": "ok",
        "accounts": await Account.objects.acount(),
        "timestamp": timezone.now().isoformat(),
        "strategy": "session",
    }
