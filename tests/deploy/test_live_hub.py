"""lib/live_hub.py on its own: the hub and two layers standing in for two workers, one process."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lib import live_hub
from tests.conftest import until

LOGGED = {"type": "request.logged", "row": {"id": 7}}
STARTED = {"type": "request.started", "row": {"id": 8}}


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[list[live_hub.HubChannelLayer]]:
    path = str(tmp_path / "hub.sock")
    server = await live_hub.serve_hub(path)
    layers = [live_hub.HubChannelLayer(path), live_hub.HubChannelLayer(path)]
    yield layers
    for layer in layers:
        await layer.close()
    server.close()
    await server.wait_closed()


async def test_a_group_message_reaches_the_other_workers_listeners_once(
    workers: list[live_hub.HubChannelLayer],
) -> None:
    worker_a, worker_b = workers
    on_a, on_b = await worker_a.new_channel(), await worker_b.new_channel()
    await worker_a.group_add("requests", on_a)
    await worker_b.group_add("requests", on_b)

    await worker_a.group_send("requests", LOGGED)
    assert await asyncio.wait_for(worker_b.receive(on_b), 5) == LOGGED
    # By now the hub has relayed A's message to every peer it copies to; anything it sent
    # back to A would come before what B sends next, on the same connection.
    await worker_b.group_send("requests", STARTED)

    assert await asyncio.wait_for(worker_b.receive(on_b), 5) == STARTED
    assert await asyncio.wait_for(worker_a.receive(on_a), 5) == LOGGED
    assert await asyncio.wait_for(worker_a.receive(on_a), 5) == STARTED


async def test_a_worker_without_a_hub_still_delivers_locally(tmp_path: Path) -> None:
    alone = live_hub.HubChannelLayer(str(tmp_path / "no-hub.sock"))
    channel = await alone.new_channel()
    await alone.group_add("requests", channel)

    await alone.group_send("requests", STARTED)

    assert await alone.receive(channel) == STARTED


class Peer:
    """A raw connection to the hub, speaking its frames: a worker as the hub sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def next(self, within: float = 5) -> dict:
        return json.loads(await asyncio.wait_for(live_hub.read_frame(self.reader), within))

    async def nothing(self, within: float = 0.2) -> bool:
        try:
            await self.next(within)
        except TimeoutError:
            return True
        return False

    def send(self, frame: dict) -> None:
        self.writer.write(live_hub.encode(frame))


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[str]:
    path = str(tmp_path / "hub.sock")
    server = await live_hub.serve_hub(path)
    yield path
    server.close()
    await server.wait_closed()


async def peer(path: str) -> Peer:
    return Peer(*await asyncio.open_unix_connection(path))


async def test_a_message_reaches_only_the_workers_that_listen_to_its_group(hub: str) -> None:
    listener, other = await peer(hub), await peer(hub)
    assert await listener.next() == {"heard": []}
    assert await other.next() == {"heard": []}
    listener.send({"listen": ["requests"], "seq": 1})
    assert await other.next() == {"heard": ["requests"]}  # told before the listener's ack
    assert await listener.next() == {"ack": 1}

    sender = live_hub.HubChannelLayer(hub)
    await sender.group_send("requests", LOGGED)
    await sender.group_send("logs", STARTED)  # nobody listens: not relayed

    assert await listener.next() == {"group": "requests", "message": LOGGED}
    assert await listener.nothing() and await other.nothing()
    await sender.close()


async def test_a_worker_knows_when_no_other_worker_listens(
    workers: list[live_hub.HubChannelLayer],
) -> None:
    worker_a, worker_b = workers
    # Before the hub has said anything, a worker must assume someone listens.
    assert worker_a.has_listeners("requests")
    await worker_a.group_send("requests", STARTED)  # connects; nobody listens anywhere
    await until(lambda: not worker_a.has_listeners("requests"))

    on_b = await worker_b.new_channel()
    await worker_b.group_add("requests", on_b)
    await until(lambda: worker_a.has_listeners("requests"))
    assert not worker_a.has_listeners("logs")
    await worker_a.group_send("requests", LOGGED)
    assert await asyncio.wait_for(worker_b.receive(on_b), 5) == LOGGED

    await worker_b.group_discard("requests", on_b)
    await until(lambda: not worker_a.has_listeners("requests"))
    # A worker's own listeners count without the hub.
    on_a = await worker_a.new_channel()
    await worker_a.group_add("requests", on_a)
    assert worker_a.has_listeners("requests")


async def test_a_worker_that_goes_away_is_no_longer_heard(hub: str) -> None:
    watcher = await peer(hub)
    assert await watcher.next() == {"heard": []}
    listening = live_hub.HubChannelLayer(hub)
    await listening.group_add("logs", await listening.new_channel())
    assert await watcher.next() == {"heard": ["logs"]}

    await listening.close()
    assert await watcher.next() == {"heard": []}


async def test_a_frame_the_hub_cannot_read_ends_only_that_connection(hub: str) -> None:
    broken, fine = await peer(hub), await peer(hub)
    await broken.next()
    await fine.next()
    broken.writer.write(b"\x00\x00\x00\x03{x}")
    assert await broken.reader.read() == b""  # closed by the hub
    fine.send({"listen": ["requests"], "seq": 5})
    assert await fine.next() == {"ack": 5}
