"""Whether the login a long-lived connection came with still holds (docs/api.md, live streams).

The live streams and the dashboard socket are let in once, when they connect (access.auth,
the websocket's AuthMiddlewareStack), and may stay open for days. They re-ask here every
recheck_seconds(), and end once the answer is no: the API token revoked or deleted, the
session logged out, expired or deleted, or its user no longer active staff (or with a new
password). Not here: who may connect in the first place.
"""

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import aget_user
from django.db import DatabaseError
from django.http import HttpRequest

from access import credentials
from access.models import ApiToken
from lib import db_away

logger = logging.getLogger(__name__)

# A logout or a revoked token ends a live connection within this long (or within
# SSE_HEARTBEAT_SECONDS, when that is shorter). It bounds how long events, prompts
# included, can still reach a client whose login ended; the check costs a query or two.
RECHECK_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Grant:
    """The credential a connection was let in with: an API token's id or a session's key."""

    token_id: int | None = None
    session_key: str | None = None


def of_request(request: HttpRequest) -> Grant:
    """The grant of a request ninja's api_auth let in (request.auth: a token or a staff user)."""
    credential = getattr(request, "auth", None)
    if isinstance(credential, ApiToken):
        return Grant(token_id=credential.pk)
    return Grant(session_key=request.session.session_key)


def of_scope(scope: Mapping[str, Any]) -> Grant:
    """The grant of a websocket let in by its session (the dashboard's)."""
    return Grant(session_key=scope["session"].session_key)


def is_staff(user: Any) -> bool:
    """Whether a session's user may use the API and the dashboard: logged in and staff.

    A deactivated user's session already reads as anonymous (ModelBackend.get_user).
    Here, not in access.auth: the dashboard's socket asks it, and access.auth loads
    django-ninja, which a server that only proxies never loads (docs/performance.md).
    """
    # getattr: AnonymousUser has is_staff, but the stubs type a lazy user as
    # AbstractBaseUser, which has none.
    return bool(user is not None and user.is_authenticated and getattr(user, "is_staff", False))


def recheck_seconds() -> float:
    return min(RECHECK_SECONDS, settings.SSE_HEARTBEAT_SECONDS)


async def holds(grant: Grant) -> bool:
    """Whether `grant` would still be let in: one query for a token, two for a session.

    A session is read afresh and judged as a request's would be (Django's own aget_user:
    the session's expiry, the user's activity and password, then staff). True when the
    database cannot answer: nothing can revoke a token or end a session while it is
    away, and the live streams are meant to outlive a database restart.
    """
    try:
        if grant.token_id is not None:
            return await credentials.live_api_tokens().filter(pk=grant.token_id).aexists()
        visit = HttpRequest()  # what aget_user reads of a request: its session, read afresh
        visit.session = import_module(settings.SESSION_ENGINE).SessionStore(grant.session_key)
        return is_staff(await aget_user(visit))
    except DatabaseError as error:
        await sync_to_async(db_away.after_failure)(error)
        logger.warning("access.grant_not_checked error=%s", error)
        return True


class Watch:
    """holds() for a stream that asks before each event, answered from the last "yes" for
    recheck_seconds(): a busy stream costs one check per interval, not one per event."""

    def __init__(self, grant: Grant) -> None:
        self.grant = grant
        self._checked_at = float("-inf")

    async def holds(self) -> bool:
        if time.monotonic() - self._checked_at < recheck_seconds():
            return True
        if not await holds(self.grant):
            return False
        self._checked_at = time.monotonic()
        return True


async def until_ended(grant: Grant) -> None:
    """Return once `grant` no longer holds, checked every recheck_seconds() (the caller
    closes the connection); a connection that goes first cancels it."""
    while True:
        await asyncio.sleep(recheck_seconds())
        if not await holds(grant):
            return
