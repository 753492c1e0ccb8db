"""Snapshots reloaded per request: shared, kept on failure, never held by a hung database."""

import asyncio
import logging

import pytest

from lib import reloading
from lib.reloading import Reloader

logger = logging.getLogger("tests.reloading")


class Source:
    """What a reload reads: a value, an error to raise, or a gate that holds it."""

    def __init__(self) -> None:
        self.value = 1
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None
        self.loads = 0
        self.snapshot: int | None = None
        self.reloader = Reloader(self.load, max_age=lambda: 0.0, logger=logger, name="t.reload")

    async def load(self) -> None:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        self.snapshot = self.value

    async def read(self) -> int | None:
        await self.reloader.fresh()
        return self.snapshot


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def test_concurrent_callers_share_one_reload() -> None:
    async def scenario() -> tuple[list[int | None], int]:
        source = Source()
        source.gate = asyncio.Event()
        readers = [asyncio.ensure_future(source.read()) for _ in range(10)]
        await asyncio.sleep(0)
        source.gate.set()
        return list(await asyncio.gather(*readers)), source.loads

    assert run(scenario()) == ([1] * 10, 1)


def test_a_failed_reload_keeps_the_last_snapshot_and_logs_one_traceback(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reloading, "REPEAT_LOG_SECONDS", 3600.0)

    async def scenario() -> list[int | None]:
        source = Source()
        seen = [await source.read()]
        source.value, source.error = 2, ConnectionError("database gone")
        seen += [await source.read() for _ in range(5)]
        source.error = None
        seen.append(await source.read())
        return seen

    with caplog.at_level(logging.INFO, logger="tests.reloading"):
        assert run(scenario()) == [1, 1, 1, 1, 1, 1, 2]

    lines = [(r.getMessage(), bool(r.exc_info)) for r in caplog.records]
    assert lines == [("t.reload_failed", True), ("t.reload_recovered failures=5", False)]


def test_a_run_of_failures_is_logged_again_a_minute_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reloading, "REPEAT_LOG_SECONDS", 0.0)

    async def scenario() -> None:
        source = Source()
        source.error = ConnectionError("database gone")
        for _ in range(3):
            await source.read()

    with caplog.at_level(logging.INFO, logger="tests.reloading"):
        run(scenario())

    assert [r.getMessage() for r in caplog.records] == [
        "t.reload_failed",
        "t.reload_failed failures=2 error=database gone",
        "t.reload_failed failures=3 error=database gone",
    ]


def test_a_hung_reload_holds_callers_once_then_not_at_all(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A PostgreSQL that stopped answering: every request waited until it came back.
    monkeypatch.setattr(reloading, "WAIT_SECONDS", 0.01)

    async def scenario() -> tuple[list[int | None], int | None, int]:
        source = Source()
        await source.read()
        source.value, source.gate = 2, asyncio.Event()
        meanwhile = [await source.read() for _ in range(3)]  # the first waits 10 ms
        assert not source.gate.is_set() and source.loads == 2
        source.gate.set()
        await asyncio.sleep(0.01)
        source.gate = None
        return meanwhile, await source.read(), source.loads

    with caplog.at_level(logging.WARNING, logger="tests.reloading"):
        assert run(scenario()) == ([1, 1, 1], 2, 3)
    assert [r.getMessage() for r in caplog.records] == [
        "t.reload_slow after=0.0s: serving the last snapshot meanwhile"
    ]


def test_the_first_load_is_waited_for_with_nothing_to_serve_yet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reloading, "WAIT_SECONDS", 0.0)

    async def scenario() -> int | None:
        source = Source()
        source.gate = asyncio.Event()
        reader = asyncio.ensure_future(source.read())
        await asyncio.sleep(0.02)
        assert not reader.done()
        source.gate.set()
        return await reader

    assert run(scenario()) == 1


def test_a_change_during_a_reload_makes_the_next_call_reload_again() -> None:
    async def scenario() -> list[int | None]:
        source = Source()
        source.reloader = Reloader(
            source.load, max_age=lambda: 3600.0, logger=logger, name="t.reload"
        )
        await source.read()
        source.value, source.gate = 2, asyncio.Event()
        source.reloader.invalidate()
        reader = asyncio.ensure_future(source.read())
        await asyncio.sleep(0)
        source.value = 3  # changed while the reload read the old value
        source.reloader.invalidate()
        source.gate.set()
        first = await reader
        source.gate = None
        return [first, await source.read()]

    assert run(scenario()) == [3, 3]
