"""The SSE streams' subscription, in-process: what a stream open for days still hears."""

import asyncio
import time
from types import SimpleNamespace

import channels.layers
import pytest

from analytics.live import events, streams


async def test_a_stream_open_for_days_still_hears_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "REJOIN_SECONDS", 0.05)
    frames = streams.request_frames()
    assert await anext(frames) == "event: connected\ndata: ok\n\n"

    # A day and a minute on, for the layer: what it joined at the start has expired.
    later = time.time() + 86_400 + 60
    monkeypatch.setattr(channels.layers, "time", SimpleNamespace(time=lambda: later))
    await asyncio.sleep(0.3)  # meanwhile the stream joins again
    await events.publish_requests_started([{"id": "r1"}])

    frame = await asyncio.wait_for(anext(frames), 2)
    while frame == streams.HEARTBEAT:
        frame = await asyncio.wait_for(anext(frames), 2)
    await frames.aclose()
    assert frame == 'data: {"type": "start", "id": "r1"}\n\n'
