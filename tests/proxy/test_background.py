"""The background loop writes a batch of records as soon as it waits, not at the next tick.

Under load a tick's worth of records took longer to write than a tick, so the unwritten
backlog (what a crash loses) grew with load (issue 9, item 5).
"""

import asyncio
import contextlib
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection

from analytics.models import Request
from analytics.recording import write_behind as recording
from proxy import background

pytestmark = pytest.mark.django_db(transaction=True)

# Several full batches, all queued before the flusher runs: what a burst under load leaves.
BURST = 1000


def finished_request() -> recording.RequestRecord:
    return recording.RequestRecord(
        id=str(uuid.uuid4()),
        started_at=time.time(),
        method="POST",
        path="/v1/messages",
        status_code=200,
        success=True,
    )


async def rows_written(expected: int) -> None:
    """Return once the table holds `expected` rows; the caller bounds the wait."""
    # The rows are written from the recorder's thread: there is no event to await.
    while await Request.objects.acount() < expected:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


@pytest.fixture
def fresh_recorder(monkeypatch: pytest.MonkeyPatch) -> recording.Recorder:
    fresh = recording.Recorder()
    monkeypatch.setattr(background, "recorder", fresh)
    return fresh


async def test_a_burst_is_written_without_waiting_for_the_tick(
    settings: object, fresh_recorder: recording.Recorder
) -> None:
    settings.RECORDER_FLUSH_MS = 600_000  # type: ignore[attr-defined]  # a tick never due here
    flusher = asyncio.create_task(background._flush_forever())
    try:
        for _ in range(BURST):
            fresh_recorder.enqueue(finished_request())
        # Far longer than writing 1,000 rows takes; the old loop slept for the tick.
        async with asyncio.timeout(20):
            await rows_written(BURST)
    finally:
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        # The recorder's one thread runs jobs in order: once this one ran, no flush is
        # left running to log after the test (and pytest) closed its streams.
        await asyncio.get_running_loop().run_in_executor(recording._executor, lambda: None)
    assert await Request.objects.acount() == BURST


async def test_a_full_batch_wakes_a_waiting_flusher(fresh_recorder: recording.Recorder) -> None:
    waiting = asyncio.create_task(fresh_recorder.wait_for_batch(at_most=600))
    await asyncio.sleep(0)  # the task starts and parks on its waiter
    for _ in range(recording.FLUSH_BATCH):
        fresh_recorder.enqueue(finished_request())
    await asyncio.wait_for(waiting, timeout=20)
    assert fresh_recorder.pending == recording.FLUSH_BATCH


def test_records_the_database_never_took_are_counted_in_the_log_at_exit(
    fresh_recorder: recording.Recorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(recording, "write_batch", refuse)
    monkeypatch.setattr(background, "_deadline", time.monotonic() + 0.3)
    fresh_recorder.enqueue(finished_request())
    fresh_recorder.enqueue(finished_request())

    background._drain_sync()

    assert "recording.lost_at_shutdown count=2" in caplog.text


def test_the_exit_drain_tries_again_until_the_database_takes_the_records(
    settings: object,
    fresh_recorder: recording.Recorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.RECORDER_FLUSH_MS = 20  # type: ignore[attr-defined]
    tries = []
    write = recording.write_batch

    def away_twice(*args: Any) -> list:
        tries.append(time.monotonic())
        if len(tries) <= 2:
            raise OperationalError("database is locked")
        return write(*args)

    monkeypatch.setattr(recording, "write_batch", away_twice)
    monkeypatch.setattr(background, "_deadline", time.monotonic() + 10)
    fresh_recorder.enqueue(finished_request())
    fresh_recorder.enqueue(finished_request())

    background._drain_sync()

    assert len(tries) == 3
    assert Request.objects.count() == 2
    assert "recording.lost_at_shutdown" not in caplog.text


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's lock and busy timeout")
def test_the_exit_drain_waits_for_a_lock_no_longer_than_the_time_left(
    settings: object,
    fresh_recorder: recording.Recorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.RECORDER_FLUSH_MS = 20  # type: ignore[attr-defined]
    monkeypatch.setattr(background, "_deadline", time.monotonic() + 1.5)
    fresh_recorder.enqueue(finished_request())
    started = time.monotonic()

    with database_locked():
        background._drain_sync()

    # Not the busy timeout (5 s) for each try, the last of them begun just before the end.
    assert time.monotonic() - started < 1.5 + 0.5
    assert "recording.lost_at_shutdown count=1" in caplog.text
    assert lock_wait_ms() == 5000  # given back for whatever uses the connection next


def test_with_no_stop_noticed_the_exit_drain_tries_once(
    fresh_recorder: recording.Recorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A process that served no daphne (a command, a test run) must not wait out a drain
    # at exit for a database that is gone.
    tries = []
    monkeypatch.setattr(background, "_deadline", None)
    monkeypatch.setattr(recording, "write_batch", lambda *args: tries.append(1) or refuse())
    fresh_recorder.enqueue(finished_request())

    background._drain_sync()

    assert len(tries) == 1
    assert "recording.lost_at_shutdown count=1" in caplog.text


def refuse(*args: object) -> list:
    raise OperationalError("database is locked")


@contextlib.contextmanager
def database_locked() -> Iterator[None]:
    """Another connection holds the test database's write lock (SQLite)."""
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
        holder.execute("COMMIT")
    finally:
        holder.close()


def lock_wait_ms() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        return cursor.fetchone()[0]


def test_flushes_back_off_while_the_database_is_away() -> None:
    waits = [background.backoff_seconds(failures, 0.1) for failures in (1, 2, 3, 10, 100)]

    assert waits == [0.2, 0.4, 0.8, background.MAX_BACKOFF_SECONDS, background.MAX_BACKOFF_SECONDS]
