"""Notifications: a JSON POST to NOTIFY_WEBHOOK_URL when the accounts need a person.

Three events, announced by `accounts.signals`: an account needs re-auth, no account could
serve a request, an account's 5-hour or 7-day window passed 90%. A notice goes out at most
once per NOTIFY_REPEAT_SECONDS for one event and account (per server process), and never
on the response path: the POST runs in a thread of its own with a bounded timeout, and a
failure is a WARNING in the log, with the URL's secret parts left out.

The body has `event`, `account` (null for the pool), `message`, `text` (one line for
people: Slack-style incoming webhooks show it) and `timestamp` (ISO 8601, UTC).
"""

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone

from accounts import signals
from lib import h1

logger = logging.getLogger(__name__)

# Long enough for a slow chat service, short enough that a dead one does not pile up threads.
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Notice:
    event: str
    account: str | None
    message: str
    text: str
    # Tells apart notices of one event and account that are not repeats (the 5-hour
    # window nearly full, then the 7-day one).
    about: str = ""

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.event, self.account, self.about)

    def payload(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "account": self.account,
            "message": self.message,
            "text": self.text,
            "timestamp": timezone.now().isoformat(),
        }


class Throttle:
    """When each notice was last sent, so a repeat within the window is held back."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str | None, str], float] = {}
        # Notices come from the event loop and from admin threads.
        self._lock = threading.Lock()

    def due(self, key: tuple[str, str | None, str], *, now: float, repeat: float) -> bool:
        """True (and remembered as sent at `now`) unless `key` was sent less than `repeat` ago."""
        with self._lock:
            last = self._sent.get(key)
            if last is not None and now - last < repeat:
                return False
            self._sent[key] = now
            return True


_throttle = Throttle()


def send(notice: Notice) -> bool:
    """Start posting `notice` unless notifications are off or it went out lately.

    Returns whether a post was started; never waits for it.
    """
    url = settings.NOTIFY_WEBHOOK_URL
    if not url:
        return False
    repeat = settings.NOTIFY_REPEAT_SECONDS
    if not _throttle.due(notice.key, now=time.monotonic(), repeat=repeat):
        return False
    # A thread rather than a task: notices also come from admin actions and commands,
    # whose event loops may end before a slow webhook answers.
    thread = threading.Thread(target=post, args=(url, notice.payload()), daemon=True)
    thread.start()
    return True


def post(url: str, payload: dict[str, Any]) -> None:
    """POST one notice; a failure is logged at WARNING, never raised (nobody waits for it).

    Runs in a thread of its own (see `send`), so the request gets an event loop of its own.
    """
    content_type, body = h1.json_body(payload)
    try:
        response = asyncio.run(
            h1.fetch("POST", url, headers=[content_type], body=body, within=TIMEOUT_SECONDS)
        )
    except (h1.UpstreamError, TimeoutError, ValueError, OSError) as exc:
        failure = f"{type(exc).__name__}: {exc}".replace(url, redact_url(url))
    else:
        # 2xx only: a redirect is not followed (it would resend the notice elsewhere), so
        # the notice was not delivered; it was logged as sent.
        if 200 <= response.status < 300:
            logger.info("notify.sent event=%s account=%s", payload["event"], payload["account"])
            return
        failure = f"HTTP {response.status}"
        if 300 <= response.status < 400:
            failure += " (a redirect: not followed, set the webhook's final URL)"
    logger.warning(
        "notify.failed event=%s url=%s error=%s", payload["event"], redact_url(url), failure
    )


def redact_url(url: str) -> str:
    """Scheme, host and port only: a webhook URL's path and query are its secret."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # user:password@ is a secret too
    return f"{parts.scheme}://{host}/…"


@receiver(signals.account_needs_reauth)
def account_needs_reauth(*, account_name: str, reason: str, **kwargs: Any) -> None:
    text = f"ccflare: account {account_name} needs re-auth and serves nothing until then: {reason}"
    send(Notice("account_needs_reauth", account_name, reason, text))


@receiver(signals.pool_exhausted)
def pool_exhausted(*, status: int, message: str, **kwargs: Any) -> None:
    text = f"ccflare: no account can serve requests, clients get HTTP {status}: {message}"
    send(Notice("pool_exhausted", None, message, text))


@receiver(signals.window_nearly_full)
def window_nearly_full(
    *, account_name: str, window: str, utilization: float, **kwargs: Any
) -> None:
    message = f"{window} window {utilization:.0%} used"
    text = f"ccflare: account {account_name}'s {message}"
    send(Notice("window_nearly_full", account_name, message, text, about=window))
