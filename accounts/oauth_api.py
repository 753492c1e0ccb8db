"""HTTP routes of the OAuth login (docs/api.md): POST /api/oauth/init, then /api/oauth/callback.

Thin: `accounts.onboarding` does the work, shared with the add_account command
and the admin. An existing name is re-authenticated (credentials replaced)
rather than refused as in ccflare: that is how an account leaves "needs re-auth".
Errors are raised, not caught: `ccflare_site.api` maps `OnboardingError` and
`oauth.GrantRejected` (a wrong, reused or expired code: the user tries again) to
400, and any other `oauth.OAuthError` (the endpoint down) to 502.
"""

from asgiref.sync import async_to_sync
from django.http import HttpRequest
from ninja import Router

from accounts import onboarding
from accounts.schemas import CallbackIn, CallbackOut, InitIn, InitOut

router = Router(tags=["oauth"])

UPSTREAM_FAILED = {
    "responses": {
        502: {
            "description": "The OAuth endpoint could not be reached or failed",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    }
}


@router.post("/init", response=InitOut, operation_id="oauth_init")
def oauth_init(request: HttpRequest, body: InitIn) -> dict:
    started = async_to_sync(onboarding.start)(
        name=body.name, mode=body.mode, tier=body.tier, priority=body.priority
    )
    return {
        "success": True,
        "authUrl": started.auth_url,
        "sessionId": str(started.session_id),
        "step": "authorize",
        "reauth": started.reauth,
    }


@router.post(
    "/callback",
    response=CallbackOut,
    operation_id="oauth_callback",
    openapi_extra=UPSTREAM_FAILED,
)
def oauth_callback(request: HttpRequest, body: CallbackIn) -> dict:
    finished = async_to_sync(onboarding.finish)(session_id=body.sessionId, pasted_code=body.code)
    return {
        "success": True,
        "message": finished.message,
        "mode": onboarding.MODE_LABELS[finished.mode],
        "tier": finished.account.tier,
    }
