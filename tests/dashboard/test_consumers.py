"""The dashboard websocket: who may connect, and what it forwards from the channel groups."""

import asyncio
import time
from types import SimpleNamespace

import channels.layers
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from analytics.live import consumers, events
from analytics.operations import logs
from ccflare_site.asgi import application
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(
    user: User | None, path: str = "/ws/dashboard/", origin: bytes = b"http://localhost"
) -> WebsocketCommunicator:
    """A communicator through the project's full websocket stack (origin check, auth)."""
    headers = [(b"host", b"localhost"), (b"origin", origin)]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    return WebsocketCommunicator(application, path, headers=headers)


async def make_user(*, staff: bool) -> User:
    name = "staff" if staff else "visitor"
    return await User.objects.acreate_user(name, password="pw", is_staff=staff)


async def test_anonymous_visitor_is_refused() -> None:
    communicator = await connect(None)
    connected, code = await communicator.connect()
    assert (connected, code) == (False, consumers.FORBIDDEN)


@pytest.mark.parametrize(
    "origin", [b"http://localhost:3000", b"http://127.0.0.1", b"null", b"localhost"]
)
async def test_staff_session_from_a_page_of_another_origin_is_refused(origin: bytes) -> None:
    # Another port of an allowed host name (a local dev server): the browser sends the
    # staff session cookie along, and the feed (requests, logs) must not open for it.
    communicator = await connect(await make_user(staff=True), origin=origin)
    connected, _ = await communicator.connect()
    assert not connected


async def test_logged_in_non_staff_user_is_refused() -> None:
    communicator = await connect(await make_user(staff=False))
    connected, code = await communicator.connect()
    assert (connected, code) == (False, consumers.FORBIDDEN)


async def test_staff_receive_request_events() -> None:
    communicator = await connect(await make_user(staff=True))
    connected, _ = await communicator.connect()
    hello = await communicator.receive_json_from()
    await events.publish_requests_started([{"id": "r1"}, {"id": "r2"}])
    await events.publish_requests_logged([{"id": "r1", "statusCode": 200}, {"id": "r2"}])
    received = [await communicator.receive_json_from() for _ in range(4)]
    await communicator.disconnect()

    assert connected
    assert hello == {
        "type": "hello",
        "topics": ["requests", "accounts"],
        "startId": settings.START_ID,
    }
    # One message to the browser per request, though the layer carried one per batch.
    assert received == [
        {"type": "request.started", "row": {"id": "r1"}},
        {"type": "request.started", "row": {"id": "r2"}},
        {"type": "request.logged", "row": {"id": "r1", "statusCode": 200}},
        {"type": "request.logged", "row": {"id": "r2"}},
    ]


async def test_staff_receive_account_changes_from_saves_and_deletes() -> None:
    communicator = await connect(await make_user(staff=True))
    await communicator.connect()
    await communicator.receive_json_from()
    account = await sync_to_async(make_account)(name="alpha")
    created = await communicator.receive_json_from()
    await account.adelete()
    deleted = await communicator.receive_json_from()
    await communicator.disconnect()

    assert created == {
        "type": "account.changed",
        "id": created["id"],
        "name": "alpha",
        "deleted": False,
    }
    assert deleted["name"] == "alpha" and deleted["deleted"] is True
    assert deleted["id"] == created["id"]


async def test_log_lines_only_reach_sockets_that_asked_for_them() -> None:
    staff = await make_user(staff=True)
    with_logs = await connect(staff, "/ws/dashboard/?topics=logs")
    without = await connect(staff)
    await with_logs.connect()
    await without.connect()
    await with_logs.receive_json_from()
    await without.receive_json_from()
    layer = get_channel_layer()
    await layer.group_send(
        logs.LOGS_GROUP, {"type": "log.entry", "ts": 1, "level": "INFO", "msg": "hello"}
    )
    line = await with_logs.receive_json_from()
    nothing = await without.receive_nothing(timeout=0.2)
    await with_logs.disconnect()
    await without.disconnect()

    assert line == {"type": "log", "ts": 1, "level": "INFO", "msg": "hello"}
    assert nothing


async def test_ping_is_answered() -> None:
    communicator = await connect(await make_user(staff=True))
    await communicator.connect()
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "ping"})
    reply = await communicator.receive_json_from()
    await communicator.disconnect()
    assert reply == {"type": "pong"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", ["requests", "accounts"]),
        (b"topics=logs", ["logs"]),
        (b"topics=logs,requests,bogus", ["requests", "logs"]),
        (b"topics=bogus", ["requests", "accounts"]),
    ],
)
def test_requested_topics(query: bytes, expected: list[str]) -> None:
    assert consumers.requested_topics({"query_string": query}) == expected


async def test_a_dashboard_open_for_days_still_hears_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "REJOIN_SECONDS", 0.05)
    communicator = await connect(await make_user(staff=True))
    await communicator.connect()
    await communicator.receive_json_from()  # hello

    # A day and a minute on, for the layer: what it joined at the start has expired.
    later = time.time() + 86_400 + 60
    monkeypatch.setattr(channels.layers, "time", SimpleNamespace(time=lambda: later))
    await asyncio.sleep(0.3)  # meanwhile the consumer joins again
    await events.publish_requests_logged([{"id": "r1"}])

    message = await communicator.receive_json_from(timeout=2)
    await communicator.disconnect()
    assert message == {"type": "request.logged", "row": {"id": "r1"}}
