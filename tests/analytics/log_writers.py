"""Processes that write the log file through LogFileHandler, for tests/analytics/test_log_file.py.

Run as `python -m tests.analytics.log_writers KIND PATH ...` from the project root: each is a
real process with its own handler, as each server worker (WORKERS) is.
"""

import logging
import resource
import signal
import sys
import time
from pathlib import Path

from analytics.operations import logs

# Lines of about 150 bytes once in JSON, as the recorder's request lines are.
PADDING = "x" * 60


def _logger(path: Path, *, max_bytes: int, backups: int) -> logging.Logger:
    handler = logs.LogFileHandler(
        str(path), maxBytes=max_bytes, backupCount=backups, delay=True, encoding="utf-8"
    )
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("tests.log_writers")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def share(path: Path, name: str, count: int, start_at: float) -> None:
    """`count` lines named `name`, from `start_at` on: single records and batches held
    within lines_held (the recorder's), as a worker writes them. Then, once every
    writer has put a `done` file beside the log, one last line a little later."""
    logger = _logger(path, max_bytes=20_000, backups=60)
    time.sleep(max(0.0, start_at - time.time()))
    n = 0
    while n < count:
        if n % 40 < 32:
            logger.info("%s %05d %s", name, n, PADDING)
            n += 1
            continue
        with logs.lines_held():
            logs.info_lines(logger, [f"{name} {n + i:05d} {PADDING}" for i in range(8)])
        n += 8
    (path.parent / f"done-{name}").touch()
    while len(list(path.parent.glob("done-*"))) < 2:
        time.sleep(0.01)
    time.sleep(0.3)  # past WATCH_SECONDS: the path is looked at again
    logger.info("%s last", name)


def full(path: Path, room: int) -> None:
    """Lines, then a file that takes only `room` more bytes (RLIMIT_FSIZE, as a full disk:
    the write that passes it is cut short there), a batch of held lines and single ones,
    then the room back, and a few more lines, an ERROR among them."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, not the process
    logger = _logger(path, max_bytes=10**7, backups=1)
    for n in range(5):
        logger.info("before %d %s", n, PADDING)
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + room, limits[1]))
    with logs.lines_held():  # one write of 9 KB, more than a file object's buffer
        logs.info_lines(logger, [f"held {n} {PADDING}" for n in range(60)])
    for n in range(10):
        logger.info("during %d %s", n, PADDING)
    resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    logger.info("after 0")
    logger.error("after 1")
    logger.info("after 2")


if __name__ == "__main__":
    kind, where, *rest = sys.argv[1:]
    if kind == "share":
        share(Path(where), rest[0], int(rest[1]), float(rest[2]))
    else:
        full(Path(where), int(rest[0]))
