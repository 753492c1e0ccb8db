"""HTTP routes of the OAuth login (docs/api.md): POST /api/oauth/init, then /api/oauth/callback.

Thin: `accounts.onboarding` does the work, shared with the add_account command
and the admin. An existing name is re-authenticated (credentials replaced)
rather than refused as in ccflare: that is how an account leaves "needs re-auth".
"""

from asgiref.sync import async_to_sync
from django.http import HttpRequest
from ninja import Router, Schema, Status

from accounts import oauth, onboarding
from accounts.schemas import Name, Priority

router = Router(tags=["oauth"])


class InitIn(Schema):
    name: Name
    mode: str = "max"
    # None: 1 for a new account, unchanged for an existing one.
    tier: int | None = None
    priority: Priority | None = None


class InitOut(Schema):
    success: bool
    authUrl: str
    sessionId: str
    step: str
    # Extension: true when finishing will replace an existing account's credentials.
    reauth: bool


class CallbackIn(Schema):
    sessionId: str
    code: str


class CallbackOut(Schema):
    success: bool
    message: str
    mode: str
    tier: int


class ErrorOut(Schema):
    error: str


@router.post("/init", response={200: InitOut, 400: ErrorOut}, operation_id="oauth_init")
def oauth_init(request: HttpRequest, body: InitIn) -> Status:
    try:
        started = async_to_sync(onboarding.start)(
            name=body.name, mode=body.mode, tier=body.tier, priority=body.priority
        )
    except onboarding.OnboardingError as error:
        return Status(400, {"error": str(error)})
    reply = {
        "success": True,
        "authUrl": started.auth_url,
        "sessionId": str(started.session_id),
        "step": "authorize",
        "reauth": started.reauth,
    }
    return Status(200, reply)


@router.post(
    "/callback",
    response={200: CallbackOut, 400: ErrorOut, 502: ErrorOut},
    operation_id="oauth_callback",
)
def oauth_callback(request: HttpRequest, body: CallbackIn) -> Status:
    try:
        finished = async_to_sync(onboarding.finish)(
            session_id=body.sessionId, pasted_code=body.code
        )
    except (onboarding.OnboardingError, oauth.GrantRejected) as error:
        # A wrong, reused or expired code is the user's to fix: try again.
        return Status(400, {"error": str(error)})
    except oauth.OAuthError as error:
        return Status(502, {"error": str(error)})
    reply = {
        "success": True,
        "message": finished.message,
        "mode": onboarding.MODE_LABELS[finished.mode],
        "tier": finished.account.tier,
    }
    return Status(200, reply)
