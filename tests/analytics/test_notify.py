"""Notifications: the payload, holding back repeats, posting off the caller's path, failures."""

import logging
from datetime import datetime
from typing import Any

import pytest

from accounts import signals
from accounts.models import Account
from analytics.live import notify
from tests.conftest import wait_for
from tests.servers import free_port
from tests.webhook import WebhookReceiver

REPEAT = 3600.0


@pytest.fixture(autouse=True)
def fresh_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with nothing sent yet (the throttle lives as long as the process)."""
    monkeypatch.setattr(notify, "_throttle", notify.Throttle())


@pytest.fixture
def hooked(webhook: WebhookReceiver, settings: Any) -> WebhookReceiver:
    settings.NOTIFY_WEBHOOK_URL = webhook.url
    settings.NOTIFY_REPEAT_SECONDS = REPEAT
    return webhook


def reauth(account: str = "work") -> notify.Notice:
    return notify.Notice("account_needs_reauth", account, "HTTP 401", f"{account} needs re-auth")


def test_a_notice_is_due_once_per_repeat_window() -> None:
    throttle = notify.Throttle()
    key = reauth().key

    assert throttle.due(key, now=100.0, repeat=60)
    assert not throttle.due(key, now=159.9, repeat=60)
    assert throttle.due(key, now=160.0, repeat=60)
    assert not throttle.due(key, now=161.0, repeat=60)


def test_other_events_accounts_and_windows_are_not_repeats() -> None:
    throttle = notify.Throttle()
    five_hour = notify.Notice("window_nearly_full", "work", "m", "t", about="5-hour")
    seven_day = notify.Notice("window_nearly_full", "work", "m", "t", about="7-day")
    keys = [reauth("work").key, reauth("home").key, five_hour.key, seven_day.key]

    assert [throttle.due(key, now=0.0, repeat=REPEAT) for key in keys] == [True] * 4


def test_the_payload_carries_a_line_for_people_and_an_iso_timestamp() -> None:
    payload = reauth().payload()

    assert payload == {
        "event": "account_needs_reauth",
        "account": "work",
        "message": "HTTP 401",
        "text": "work needs re-auth",
        "timestamp": payload["timestamp"],
    }
    assert datetime.fromisoformat(payload["timestamp"]).utcoffset() is not None


def test_a_notice_reaches_the_webhook_once_within_the_repeat_window(
    hooked: WebhookReceiver,
) -> None:
    assert notify.send(reauth())
    assert not notify.send(reauth())

    assert wait_for(lambda: hooked.received)
    assert [body["text"] for body in hooked.received] == ["work needs re-auth"]


def test_nothing_is_sent_without_a_webhook_url(webhook: WebhookReceiver, settings: Any) -> None:
    settings.NOTIFY_WEBHOOK_URL = ""

    assert not notify.send(reauth())
    assert webhook.received == []


def test_sending_does_not_wait_for_the_webhook_to_answer(hooked: WebhookReceiver) -> None:
    hooked.hold()

    notify.send(reauth())
    # Had send() waited for the answer, the receiver would have given up holding it by now.
    hooked.release()

    assert wait_for(lambda: hooked.answered) == [True]


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, "HTTP 500"), (302, "HTTP 302 (a redirect: not followed, set the webhook's final URL)")],
)
def test_a_refused_notice_is_a_warning_without_the_url_secret(
    hooked: WebhookReceiver, caplog: pytest.LogCaptureFixture, status: int, error: str
) -> None:
    hooked.status = status  # a 302 was logged as sent

    with caplog.at_level(logging.WARNING, logger="analytics.live.notify"):
        notify.post(hooked.url, reauth().payload())

    (record,) = caplog.records
    assert record.getMessage() == (
        "notify.failed event=account_needs_reauth "
        f"url=http://127.0.0.1:{hooked.port}/… error={error}"
    )


def test_an_unreachable_webhook_is_a_warning_without_the_url_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://user:password@127.0.0.1:{free_port()}/services/T0/B0/s3cr3t"

    with caplog.at_level(logging.WARNING, logger="analytics.live.notify"):
        notify.post(url, reauth().payload())

    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "ConnectionRefused" in record.getMessage()
    assert "s3cr3t" not in record.getMessage()
    assert "password" not in record.getMessage()


def test_a_window_passing_90_percent_is_announced_to_the_webhook(hooked: WebhookReceiver) -> None:
    account = Account(name="work", five_hour_utilization=0.5, seven_day_utilization=0.2)

    signals.announce_changes(account, {"five_hour_utilization": 0.95})

    (body,) = wait_for(lambda: hooked.events("window_nearly_full"))
    assert body["account"] == "work"
    assert body["message"] == "5-hour window 95% used"
    assert body["text"] == "ccflare: account work's 5-hour window 95% used"


def test_an_empty_pool_is_announced_to_the_webhook(hooked: WebhookReceiver) -> None:
    signals.announce_exhausted(status=503, message="No usable account (work: paused)")

    (body,) = wait_for(lambda: hooked.events("pool_exhausted"))
    assert body["account"] is None
    assert body["text"] == (
        "ccflare: no account can serve requests, clients get HTTP 503: "
        "No usable account (work: paused)"
    )


def test_a_url_keeps_only_scheme_and_host_in_the_log() -> None:
    url = "https://bot:pw@hooks.slack.com:8443/services/T0/B0/XYZ?token=abc"

    assert notify.redact_url(url) == "https://hooks.slack.com:8443/…"
