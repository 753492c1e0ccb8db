"""An outage's log: its first failure in full, then a line a minute with the count."""

import logging
from collections.abc import Iterable

import pytest

from lib.outage_log import OutageLog

LOGGER = "tests.outage_log"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def failures_logged(caplog: pytest.LogCaptureFixture, seconds: Iterable[float]) -> list:
    """The records of one failure at each of `seconds`."""
    clock = Clock()
    log = OutageLog(logging.getLogger(LOGGER), "web.database_away", clock=clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for second in seconds:
            clock.now = 1000.0 + second
            try:
                raise ConnectionError("connection refused\n\tIs the server running?")
            except ConnectionError as error:
                log.failed(path="/api/accounts", error=error)
    return caplog.records


def test_an_outage_logs_its_first_failure_then_a_line_a_minute_with_the_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = failures_logged(caplog, range(0, 125, 5))  # every 5 s for two minutes

    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in records]
    error = "error=connection refused Is the server running?"
    assert lines == [
        ("ERROR", f"web.database_away path=/api/accounts {error}", True),
        ("WARNING", f"web.database_away path=/api/accounts {error} suppressed=11", False),
        ("WARNING", f"web.database_away path=/api/accounts {error} suppressed=11", False),
    ]


def test_a_failure_after_a_quiet_minute_starts_a_new_outage_and_ends_the_last(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = failures_logged(caplog, [0, 1, 2, 300])

    lines = [(r.levelname, r.getMessage().split(" path=")[0]) for r in records]
    assert lines == [
        ("ERROR", "web.database_away"),
        ("WARNING", "web.database_away_ended suppressed=2"),
        ("ERROR", "web.database_away"),
    ]
