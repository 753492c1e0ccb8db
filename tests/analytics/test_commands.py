"""The maintenance and reporting commands (docs/compatibility.md, the CLI) through call_command."""

import json
import logging
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from analytics.models import Request, RequestPayload
from analytics.operations import maintenance
from analytics.recording import write_behind
from analytics.recording.write_behind import RequestRecord
from lib import ids
from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_stats_prints_spec_json() -> None:
    work = make_account(name="work", request_count=1, total_requests=3)
    make_request(account=work, input_tokens=10, cache_read_input_tokens=5, output_tokens=2)
    body = json.loads(run("stats"))
    assert body["totalRequests"] == 1
    assert body["tokenDetails"] == {"input": 10, "cacheRead": 5, "cacheCreation": 0, "output": 2}
    assert body["accounts"] == [{"name": "work", "requestCount": 1, "totalRequests": 3}]
    assert set(body) == {
        "totalRequests", "successRate", "activeAccounts", "avgResponseTime", "totalTokens",
        "totalCostUsd", "avgTokensPerSecond", "tokenDetails", "accounts", "recentErrors",
        "unpricedRequests",  # an extension: what totalCostUsd leaves out
    }  # fmt: skip


def test_reset_stats_and_clear_history() -> None:
    work = make_account(name="work", request_count=5, session_request_count=2)
    RequestPayload.objects.create(request=make_request(account=work), data={})
    assert "1 requests removed" in run("clear_history")
    work.refresh_from_db()
    assert work.request_count == 5 and not RequestPayload.objects.exists()
    make_request(account=work)
    assert "account counters zeroed" in run("reset_stats")
    work.refresh_from_db()
    assert (work.request_count, work.session_request_count) == (0, 0)
    assert not Request.objects.exists()


def test_cleanup_removes_old_rows() -> None:
    make_request(timestamp=timezone.now() - timedelta(days=400))
    make_request()
    assert "Removed 1 requests" in run("cleanup")
    assert Request.objects.count() == 1


def test_cleanup_deletes_in_batches_whatever_their_number(monkeypatch: pytest.MonkeyPatch) -> None:
    # One transaction held SQLite's write lock for the whole deletion (11 s for 100,000
    # payloads): the recorder and every other writer failed their busy timeout meanwhile.
    monkeypatch.setattr(maintenance, "DELETE_BATCH", 2)
    monkeypatch.setattr(maintenance, "BATCH_PAUSE_SECONDS", 0)
    old = timezone.now() - timedelta(days=400)
    for request in [make_request(timestamp=old) for _ in range(5)] + [make_request()]:
        RequestPayload.objects.create(request=request, data={})
    recent_payload_only = make_request(timestamp=timezone.now() - timedelta(days=30))
    RequestPayload.objects.create(request=recent_payload_only, data={})

    result = maintenance.cleanup()

    assert (result.removed_requests, result.removed_payloads) == (5, 6)
    assert Request.objects.count() == 2 and RequestPayload.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_compact_and_analyze() -> None:
    assert "compacted" in run("compact")
    out = run("analyze")
    assert "analytics_request:" in out and "request_timestamp" in out
    assert "requests in the last 24 h:" in out


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's VACUUM")
@pytest.mark.django_db(transaction=True)
def test_compact_copies_the_database_in_a_file_and_leaves_no_wal_behind(
    settings: Any, tmp_path: Path
) -> None:
    # temp_store=MEMORY put VACUUM's copy of the whole database in the process (1.15 GB
    # for a 1.3 GB database), and its WAL stayed as large as the database afterwards.
    temp_store_at_vacuum = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: dict) -> Any:
        if sql == "VACUUM":
            raw = context["connection"].connection
            temp_store_at_vacuum.append(raw.execute("PRAGMA temp_store").fetchone()[0])
        return execute(sql, params, many, context)

    make_request(error_message="x" * 50_000)
    with connection.execute_wrapper(watch):
        maintenance.compact()
    wal = Path(connection.settings_dict["NAME"] + "-wal")
    with connection.cursor() as cursor:
        temp_store = cursor.execute("PRAGMA temp_store").fetchone()[0]
    assert temp_store_at_vacuum == [1]  # FILE
    assert temp_store == 1  # as every connection but the recorder's has it
    assert not wal.exists() or wal.stat().st_size == 0


def test_logs_prints_the_last_lines(settings: object, tmp_path: Path) -> None:
    settings.LOG_FILE = tmp_path / "ccflare.log"
    entries = [{"ts": i, "level": "WARNING", "msg": f"line {i}"} for i in range(3)]
    settings.LOG_FILE.write_text("".join(json.dumps(e) + "\n" for e in entries))
    assert run("logs", "--lines", "2") == "[WARN] line 1\n[WARN] line 2\n"


def test_logs_says_when_there_is_no_log_file(settings: object, tmp_path: Path) -> None:
    # Printed nothing at all, as for an empty file, when logrotate or rm had taken it.
    settings.LOG_FILE = tmp_path / "ccflare.log"
    err = StringIO()
    call_command("logs", stdout=StringIO(), stderr=err)
    assert (
        err.getvalue()
        == f"No log file at {settings.LOG_FILE}: the server starts one at its next log line.\n"
    )


@pytest.mark.parametrize("lines", ["0", "-5", "many", "99999999999999999999"])
def test_logs_refuses_a_count_that_is_not_one_or_more(lines: str) -> None:
    with pytest.raises(CommandError, match="must be a whole number from 1 to 10,000,000"):
        run("logs", "--lines", lines)


def test_log_file_gets_redacted_json_lines(tmp_path: Path) -> None:
    from analytics.operations.logs import JsonFormatter, RedactingFilter

    handler = logging.FileHandler(tmp_path / "out.log")
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("key=%s sent", "sk-ant-api03-very-secret-key")
    finally:
        logger.removeHandler(handler)
        handler.close()
    entry = json.loads((tmp_path / "out.log").read_text())
    assert entry["msg"] == "key=[REDACTED] sent"
    assert (entry["level"], entry["logger"]) == ("WARNING", "tests.redaction")


@pytest.mark.django_db(transaction=True)
def test_reset_stats_under_traffic_deletes_each_request_with_its_payload() -> None:
    # The recorder writes a request and its payload while the reset runs (here: right
    # after the reset's first payload DELETE). Deleting all payloads first and the
    # requests after broke that payload's foreign key: a 500, and the reset half done.
    old = make_request()
    RequestPayload.objects.create(request=old, data={"meta": {}})
    recorded: list[Request] = []

    def record_meanwhile(execute: Any, sql: str, params: Any, many: bool, ctx: dict) -> Any:
        result = execute(sql, params, many, ctx)
        if sql.startswith('DELETE FROM "analytics_requestpayload"') and not recorded:
            recorded.append(make_request())
            RequestPayload.objects.create(request=recorded[0], data={"meta": {}})
        return result

    with connection.execute_wrapper(record_meanwhile):
        maintenance.reset_stats()
    assert not Request.objects.filter(pk=old.pk).exists()
    assert not RequestPayload.objects.exclude(request__in=Request.objects.all()).exists()


@pytest.mark.django_db(transaction=True)
def test_requests_recorded_during_a_reset_count_as_rows_and_in_the_counters() -> None:
    # Counters zeroed after the history was deleted lost the requests recorded in
    # between (their rows stayed): "248 requests" against 257 rows, for good.
    work = make_account(name="work", request_count=7, session_request_count=3)
    Account.objects.filter(pk=work.pk).update(session_start=timezone.now() - timedelta(hours=1))
    for _ in range(3):
        make_request(account=work)
    recorded: list[object] = []

    def record_meanwhile(execute: Any, sql: str, params: Any, many: bool, ctx: dict) -> Any:
        result = execute(sql, params, many, ctx)
        if sql.startswith('DELETE FROM "analytics_request"') and not recorded:
            # As the recorder writes: the row, its payload and the counters at once.
            record = RequestRecord(
                id=ids.uuid7_text(), started_at=time.time(), method="POST",
                path="/v1/messages", account_id=work.pk, status_code=200,
            )  # fmt: skip
            recorded.append(write_behind.write_batch([record]))
        return result

    with connection.execute_wrapper(record_meanwhile):
        maintenance.reset_stats()

    work.refresh_from_db()
    assert recorded and Request.objects.filter(account=work).count() == 1
    assert (work.request_count, work.session_request_count) == (1, 1)
