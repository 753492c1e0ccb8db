"""Live events: the channel group the dashboard and API streams listen to, and the publishers."""

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from lib.live_hub import HubChannelLayer
from lib.outage_log import OutageLog

logger = logging.getLogger(__name__)
# A channel layer that cannot be reached (Redis away) fails every publish: the first
# failure is logged with its traceback, then a line a minute with the count, not one per
# event (dozens a second under traffic).
_failures = OutageLog(logger, "events.publish_failed")

REQUESTS_GROUP = "requests"
# Account state changes (pause, resume, rename, add, delete, new credentials) for
# the dashboard; the proxy's own rate-limit and health marks are not sent here
# (they reach the database in its background flush, just before `request.logged`).
ACCOUNTS_GROUP = "accounts"
# Channel layers drop a group membership a day old (their group_expiry, 86,400 s by
# default), meant for listeners that died without leaving: a dashboard left open for a
# day went quiet. A listener that stays joins again this often, well inside that.
REJOIN_SECONDS = 3600.0
_tasks: set[asyncio.Task] = set()


async def stay_joined(layer: Any, groups: list[str], channel: str) -> None:
    """Join `groups` again every REJOIN_SECONDS until cancelled (when the listener leaves)."""
    while True:
        await asyncio.sleep(REJOIN_SECONDS)
        for group in groups:
            await layer.group_add(group, channel)


def has_listeners(group: str = REQUESTS_GROUP) -> bool:
    """Whether anyone may be listening to `group`, so that its rows are worth building.

    The one-process layer knows its groups; the workers' hub layer knows which groups the
    other workers listen to (lib/live_hub.py). With Redis a listener may be anywhere, so
    the answer is yes.
    """
    layer = get_channel_layer()
    if type(layer) is InMemoryChannelLayer:
        return bool(layer.groups.get(group))
    if isinstance(layer, HubChannelLayer):
        return layer.has_listeners(group)
    return layer is not None


async def publish_requests_logged(rows: list[dict]) -> None:
    """Tell live listeners requests finished. Never raises: live views are best-effort.

    One message per recorder flush, not per request: the channel layer's cost is per
    message (and per listener), paid even when no one listens, and was 2% of the
    proxy's CPU under load (docs/performance.md). Listeners hand the rows on one by one.
    """
    if rows:
        await _publish({"type": "requests.logged", "rows": rows})


async def publish_requests_started(rows: list[dict]) -> None:
    """Tell live listeners the upstream answered these requests (their `start` events)."""
    if rows:
        await _publish({"type": "requests.started", "rows": rows})


def publish_account_changed(*, account_id: object, name: str, deleted: bool = False) -> None:
    """Tell live listeners an account changed; callable from sync code. Never raises.

    Sends `{"type": "account.changed", "id", "name", "deleted"}` to ACCOUNTS_GROUP; listeners
    re-read the account themselves, so the message stays small and never carries secrets.
    """
    message = {
        "type": "account.changed",
        "id": str(account_id),
        "name": name,
        "deleted": deleted,
    }
    try:
        task = asyncio.get_running_loop().create_task(_publish(message, group=ACCOUNTS_GROUP))
        # The loop keeps only a weak reference to a task: hold it until it is done.
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    except RuntimeError:  # no loop in this thread: a sync view, the admin, a command
        try:
            async_to_sync(_publish)(message, group=ACCOUNTS_GROUP)
        except Exception as error:
            _failures.failed(path=ACCOUNTS_GROUP, error=error)


async def _publish(message: dict, *, group: str = REQUESTS_GROUP) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, message)
    except Exception as error:
        _failures.failed(path=group, error=error)
