"""lib/live_hub.py on its own: the hub and two layers standing in for two workers, one process."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lib import live_hub

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
