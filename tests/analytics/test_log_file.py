"""The log file under several processes and outside hands: shared rotation, files renamed or
removed by someone else, a full disk (analytics.operations.logs.LogFileHandler)."""

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from analytics.operations import logs
from tests.analytics.log_writers import PADDING
from tests.servers import PROJECT_ROOT


def _writer(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.analytics.log_writers", *map(str, args)],
        cwd=PROJECT_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )


def _messages(path: Path) -> list[str]:
    entries = map(logs.parse, path.read_text().splitlines())
    return [entry["msg"] for entry in entries if entry is not None]


def test_two_processes_rotate_the_log_file_once_and_keep_every_line(tmp_path: Path) -> None:
    # WORKERS=2 had each process rotate the path by its own count: one went on writing
    # into a backup (then a deleted file), and files were rotated well before their size.
    path = tmp_path / "ccflare.log"
    start_at = time.time() + 1.0
    writers = [_writer("share", path, name, 3000, start_at) for name in ("a", "b")]
    errors = [writer.communicate(timeout=60)[1] for writer in writers]

    assert errors == ["", ""]
    backups = sorted(tmp_path.glob("ccflare.log.[0-9]*"), key=lambda p: int(p.suffix[1:]))
    assert len(backups) >= 20  # about 900 KB in files of 20 KB: many rotations, none lost
    everything = [line for file in [path, *backups] for line in _messages(file)]
    expected = [f"{name} {n:05d} {PADDING}" for name in "ab" for n in range(3000)]
    assert sorted(everything) == sorted([*expected, "a last", "b last"])
    assert {"a last", "b last"} <= set(_messages(path))
    # Each rotated when full, by one process: none cut short by a second rotation.
    sizes = [file.stat().st_size for file in backups]
    assert [size for size in sizes if not 18_000 <= size <= 22_000] == []


@pytest.mark.parametrize(
    "move",
    [lambda path: path.rename(path.with_name("ccflare.log.1")), Path.unlink],
    ids=["renamed", "removed"],
)
def test_a_log_file_moved_by_someone_else_is_opened_again(
    tmp_path: Path, move: Callable[[Path], None]
) -> None:
    # logrotate without copytruncate, or rm: the server wrote on into the renamed or
    # deleted file, and `manage.py logs` printed nothing.
    path = tmp_path / "ccflare.log"
    handler = logs.LogFileHandler(str(path), maxBytes=10**6, backupCount=1, delay=True)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("tests.moved")
    logger.addHandler(handler)
    try:
        logger.warning("before")
        move(path)
        time.sleep(0.2)  # past WATCH_SECONDS, when the path is looked at again
        logger.warning("after")
    finally:
        logger.removeHandler(handler)
        handler.close()

    assert [entry["msg"] for entry in logs.history(path, lines=10)] == ["after"]


def test_a_full_disk_counts_every_lost_line_and_glues_none(tmp_path: Path) -> None:
    # Said "1 lines lost" once while thousands were, never said when it ended, and a
    # line cut short by the full disk took the next record (an ERROR) with it.
    path = tmp_path / "ccflare.log"
    writer = _writer("full", path, 250)
    error = writer.communicate(timeout=60)[1]

    lines = path.read_text().splitlines()
    partial = [line for line in lines if logs.parse(line) is None]
    written = (
        [f"before {n} {PADDING}" for n in range(5)]
        + [f"held {n} {PADDING}" for n in range(60)]
        + [f"during {n} {PADDING}" for n in range(10)]
    )
    lost = written[6:]  # "held 0" fitted in the room, "held 1" was cut short
    assert len(partial) == 1 and '"msg": "held 1 x' in partial[0]
    assert _messages(path) == written[:6] + [
        f"log lines lost while the log file could not be written "
        f"([Errno 27] File too large): {len(lost)}",
        "after 0",
        "after 1",
        "after 2",
    ]
    assert [entry["level"] for entry in logs.history(path, lines=2)] == ["ERROR", "INFO"]
    assert error.splitlines() == [
        f"ccflare: the log file {path} cannot be written ([Errno 27] File too large); "
        "lines lost so far: 59",
        f"ccflare: the log file {path} is written again; lines lost meanwhile: {len(lost)}",
    ]
