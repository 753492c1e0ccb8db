"""Log plumbing: redaction patterns, and live publishing that never blocks the caller."""

import asyncio
import io
import logging
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from channels.layers import get_channel_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.operations import logs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-ant-api03-abcdef123 ok", "key [REDACTED] ok"),
        ("Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer [REDACTED]"),
        ('{"api_key": "secretvalue"}', '{"api_key": "[REDACTED]"}'),
        ("client cck_abcdefghijk and cct_zyxwvutsrq", "client [REDACTED] and [REDACTED]"),
        ("refresh_token=xyzxyzxyz&a=1", "refresh_token=[REDACTED]&a=1"),
        ("nothing secret here", "nothing secret here"),
        ('"GET /x?key=abc&token=t1&q=1"', '"GET /x?key=[REDACTED]&token=[REDACTED]&q=1"'),
        ("/x?x-api-key=k1&sig=s2#f", "/x?x-api-key=[REDACTED]&sig=[REDACTED]#f"),
        ("/x?max_tokens=9&keyword=a&author=b", "/x?max_tokens=9&keyword=a&author=b"),
        ("/x?Signature=abc&AUTH=x1y2", "/x?Signature=[REDACTED]&AUTH=[REDACTED]"),
        ("/x?signature=abc", "/x?signature=[REDACTED]"),
        ("request POST /v1/messages tokens=25/120", "request POST /v1/messages tokens=25/120"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert logs.redact(text) == expected


_NAMES = ["Key", "token", "tokens", "SIG", "signature", "auth", "api_key", "secret", "password"]
_NAMES += ["refresh_token", "Bearer", "sk-ant-", "cct_", "x"]
# Lines made of `name=value` pieces, as the patterns look for, with other glue too.
_PIECES = st.tuples(
    st.sampled_from(["?", "&", " ", ""]),
    st.sampled_from(_NAMES),
    st.sampled_from(["=", ": ", '="', " ", ""]),
    st.sampled_from(["abcdefgh", "x1", ""]),
).map("".join)


@settings(max_examples=500)
@given(st.lists(_PIECES, max_size=4).map("".join))
def test_the_words_that_guard_each_pattern_never_skip_a_credential(text: str) -> None:
    # They only spare the scans: every pattern applied to every line redacts the same.
    unguarded = text
    for _, pattern in logs._SECRETS:
        unguarded = pattern.sub(rf"\g<1>{logs.REDACTED}", unguarded)
    assert logs.redact(text) == unguarded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("POST /v1/messages model=claude", "POST /v1/messages model=claude"),
        ("model=x\r\nINFO forged line", "model=x\\r\\nINFO forged line"),
        ("m=\x1b[31mred\x1b]0;title\x07", "m=\\x1b[31mred\\x1b]0;title\\x07"),
        ("csi \x9b2J del \x7f", "csi \\x9b2J del \\x7f"),
        ("\u202eevil\u2066 \u2028", "\\u202eevil\\u2066 \\u2028"),
        ("tab\tand café", "tab\tand café"),
    ],
)
def test_printable(text: str, expected: str) -> None:
    assert logs.printable(text) == expected


def test_a_console_line_stays_one_line_whatever_a_client_sent() -> None:
    formatter = logs.PrettyFormatter()
    model = "x\r\n[2026-01-01 00:00:00,000] INFO: [proxy] forged\x1b]0;pwn\x07"
    record = logging.LogRecord("proxy.x", logging.INFO, __file__, 1, "model=%s", (model,), None)

    logs.RedactingFilter().filter(record)
    line = formatter.format(record)

    assert line.isprintable()
    assert line.endswith(r"model=x\r\n[2026-01-01 00:00:00,000] INFO: [proxy] forged\x1b]0;pwn\x07")


# Pieces the patterns care about, in odd cases and spellings, among ordinary text.
_PIECES = st.sampled_from(
    [
        "sk-ant-",
        "cct_",
        "cck_",
        "Bearer ",
        "BEARER\t",
        "api_key",
        "Api-Key",
        "apikey",
        "access_token",
        "PASSWORD",
        "secret",
        "Authorization",
        "?",
        "&",
        "=",
        ":",
        '"',
        "'",
        "key",
        "toKen",
        "sig",
        "auth",
        "K",
        "ſ",
        "abcdefgh",
        "12345678",
        " ",
        "/x",
        "#",
    ]
)


@given(st.lists(_PIECES | st.text(max_size=4), max_size=12).map("".join))
def test_the_word_guards_never_skip_a_pattern_that_matches(text: str) -> None:
    unguarded = text
    for _, pattern in logs._SECRETS:
        unguarded = pattern.sub(rf"\g<1>{logs.REDACTED}", unguarded)

    assert logs.redact(text) == unguarded


@pytest.fixture(autouse=True)
async def empty_layer() -> AsyncIterator[None]:
    """The process's channel layer outlives a test: no listener is left for the next."""
    yield
    await get_channel_layer().flush()


async def test_records_from_threads_reach_the_logs_group() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(logs.LOGS_GROUP, channel)
    logs.attach_loop(asyncio.get_running_loop())
    handler = logs.ChannelsHandler()
    record = logging.LogRecord("proxy.x", logging.WARNING, __file__, 1, "hello", None, None)
    await asyncio.to_thread(handler.emit, record)  # as a sync view's thread would
    message = await asyncio.wait_for(layer.receive(channel), 1)
    assert (message["level"], message["msg"]) == ("WARN", "hello")


async def test_records_without_a_loop_are_dropped_not_kept_for_later() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(logs.LOGS_GROUP, channel)
    handler = logs.ChannelsHandler()
    dropped = logging.LogRecord("proxy.x", logging.INFO, __file__, 1, "dropped", None, None)
    kept = logging.LogRecord("proxy.x", logging.INFO, __file__, 1, "kept", None, None)

    logs.attach_loop(None)  # type: ignore[arg-type]
    await asyncio.to_thread(handler.emit, dropped)  # a thread: no running loop to attach
    logs.attach_loop(asyncio.get_running_loop())
    await asyncio.to_thread(handler.emit, kept)
    message = await asyncio.wait_for(layer.receive(channel), 5)

    assert message["msg"] == "kept"


async def test_records_are_not_handed_over_while_nobody_watches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed: list[object] = []
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "call_soon_threadsafe", lambda *args: handed.append(args))
    logs.attach_loop(loop)
    handler = logs.ChannelsHandler()
    record = logging.LogRecord("proxy.x", logging.INFO, __file__, 1, "unwatched", None, None)

    handler.emit(record)
    assert handed == []

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(logs.LOGS_GROUP, channel)
    handler.emit(record)
    await layer.group_discard(logs.LOGS_GROUP, channel)
    assert len(handed) == 1


def test_a_log_file_that_cannot_be_written_says_so_once_not_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # logging's default printed a 25-line traceback per record: 12 MB of stderr in 30 s
    # on a full disk.
    handler = logs.LogFileHandler(str(tmp_path / "gone" / "ccflare.log"), delay=True)
    logger = logging.getLogger("tests.unwritable")
    logger.addHandler(handler)
    try:
        for n in range(50):
            logger.error("line %d", n)
    finally:
        logger.removeHandler(handler)

    printed = capsys.readouterr().err.splitlines()
    assert len(printed) == 1
    assert "cannot be written" in printed[0] and "gone/ccflare.log" in printed[0]


def _record(message: str, *args: object, created: float | None = None) -> logging.LogRecord:
    record = logging.LogRecord("proxy.x", logging.INFO, __file__, 1, message, args, None)
    if created is not None:
        record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_a_record_is_redacted_once_for_all_its_handlers_and_again_when_changed() -> None:
    # Each handler has the filter and gets the same record: one pass is enough, and a
    # message another filter put in its place meanwhile is redacted all the same.
    first, second = logs.RedactingFilter(), logs.RedactingFilter()
    record = _record("key=%s", "sk-ant-api03-abcdef123")

    first.filter(record)
    redacted = record.msg
    second.filter(record)
    assert record.msg is redacted and redacted == "key=[REDACTED]"

    record.msg = "now Bearer abcdefghijklmnop"
    second.filter(record)
    assert record.msg == "now Bearer [REDACTED]"


def test_the_console_time_is_loggings_own() -> None:
    pretty, plain = logs.PrettyFormatter(), logging.Formatter()
    # In turn, each twice: the second comes from the date and clock kept for that second.
    for created in (0.0, 1_795_771_314.1072, 1_795_771_314.9999, 1_795_771_315.0, 86_400.5):
        for _ in range(2):
            record = _record("x", created=created)
            assert pretty.formatTime(record) == plain.formatTime(record)
        assert pretty.formatTime(record, "%H") == plain.formatTime(record, "%H")


def test_the_log_file_rotates_at_its_size_with_each_line_written_once(tmp_path: Path) -> None:
    path = tmp_path / "ccflare.log"
    handler = logs.LogFileHandler(str(path), maxBytes=400, backupCount=2, delay=True)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("tests.rotating")
    logger.addHandler(handler)
    try:
        for n in range(12):
            logger.error("line %02d %s", n, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()

    files = [path, tmp_path / "ccflare.log.1", tmp_path / "ccflare.log.2"]
    assert all(f.stat().st_size <= 400 for f in files)
    kept = [logs.parse(line) for f in reversed(files) for line in f.read_text().splitlines()]
    numbers = [int(entry["msg"].split()[1]) for entry in kept if entry is not None]
    assert numbers == list(range(12 - len(numbers), 12)) and len(numbers) >= 6


def test_a_log_file_that_is_no_regular_file_is_never_rotated(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that opening it to write returns
    handler = logs.LogFileHandler(str(fifo), maxBytes=10, backupCount=1, delay=True)
    try:
        for n in range(3):
            handler.emit(_record("line %d", n))
        assert os.read(reader, 1000).count(b"line") == 3
    finally:
        handler.close()
        os.close(reader)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.log"]


class _Writes(io.StringIO):
    """A console stream that counts its writes."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_held_are_written_at_the_end_in_one_write_each(tmp_path: Path) -> None:
    console = logs.ConsoleHandler(_Writes())
    console.setFormatter(logs.PrettyFormatter())
    file = logs.LogFileHandler(str(tmp_path / "ccflare.log"), maxBytes=10**6, delay=True)
    file.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("tests.held")
    for handler in (console, file):
        logger.addHandler(handler)
    try:
        with logs.lines_held():
            for n in range(5):
                logger.warning("line %d", n)
            with logs.lines_held():  # within another: the outer one writes
                logger.warning("line 5")
            # Another thread's line is written as ever, not held.
            other = threading.Thread(target=logger.warning, args=("from elsewhere",))
            other.start()
            other.join()
            assert console.stream.getvalue().count("line") == 0
            assert console.stream.getvalue().count("from elsewhere") == 1
        logger.warning("after")
    finally:
        for handler in (console, file):
            logger.removeHandler(handler)
            handler.close()

    printed = console.stream.getvalue().splitlines()
    assert [line.rsplit("] ", 1)[1] for line in printed] == (
        ["from elsewhere"] + [f"line {n}" for n in range(6)] + ["after"]
    )
    assert console.stream.writes == 3  # the other thread's, the six held, "after"
    entries = [logs.parse(line) for line in (tmp_path / "ccflare.log").read_text().splitlines()]
    assert [entry["msg"] for entry in entries if entry] == [
        line.rsplit("] ", 1)[1] for line in printed
    ]


def test_held_lines_that_would_pass_the_size_go_to_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "ccflare.log"
    path.write_text("x" * 300 + "\n")
    file = logs.LogFileHandler(str(path), maxBytes=400, backupCount=1, delay=True)
    file.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("tests.held_rotation")
    logger.addHandler(file)
    try:
        with logs.lines_held():
            for n in range(3):
                logger.warning("line %d %s", n, "y" * 20)
    finally:
        logger.removeHandler(file)
        file.close()

    assert (tmp_path / "ccflare.log.1").read_text() == "x" * 300 + "\n"
    assert [logs.parse(line)["msg"][:6] for line in path.read_text().splitlines()] == [
        "line 0",
        "line 1",
        "line 2",
    ]


_MESSAGES = [
    "request POST /v1/messages account=work model=claude-sonnet-4-5 status=200 cost=$0.000240",
    'a "quoted" name, é and 模型, with a \x1b[31m colour and a\nsecond line',
    "a key sk-ant-api03-abcdefgh1234 in a path",
]


@pytest.mark.parametrize("formatter", [logs.PrettyFormatter(), logs.JsonFormatter()])
def test_an_info_line_is_what_the_formatter_makes_of_the_record(
    formatter: logging.Formatter,
) -> None:
    for created in (1795824251.904, 1795824252.0004, 1795824252.9996):
        for message in _MESSAGES:
            record = logging.makeLogRecord(
                {
                    "name": "analytics.recording.write_behind",
                    "levelno": logging.INFO,
                    "levelname": "INFO",
                    "msg": message,
                    "created": created,
                    "msecs": int((created - int(created)) * 1000) + 0.0,
                }
            )
            line = formatter.info_line(created, record.name, message)  # type: ignore[attr-defined]
            assert line == formatter.format(record)


def _three_handlers(path: Path) -> tuple[logs.ConsoleHandler, logs.LogFileHandler]:
    console = logs.ConsoleHandler(_Writes())
    console.setFormatter(logs.PrettyFormatter())
    file = logs.LogFileHandler(str(path), maxBytes=10**6, delay=True)
    file.setFormatter(logs.JsonFormatter())
    for handler in (console, file):
        handler.addFilter(logs.RedactingFilter())
    return console, file


def _without_times(text: str) -> list[str]:
    return [
        line.split("] ", 1)[-1] if line.startswith("[") else line.split(", ", 1)[-1]
        for line in text.splitlines()
    ]


def test_info_lines_write_what_logger_info_would_in_one_write_per_handler(
    tmp_path: Path,
) -> None:
    written = {}
    for way in ("logging", "info_lines"):
        console, file = _three_handlers(tmp_path / f"{way}.log")
        logger = logging.getLogger("tests.info_lines")
        logger.propagate = False
        for handler in (console, file):
            logger.addHandler(handler)
        try:
            with logs.lines_held():
                logger.warning("before")
                if way == "logging":
                    for message in _MESSAGES:
                        logger.info("%s", message)
                else:
                    logs.info_lines(logger, _MESSAGES)
                logger.warning("after")
        finally:
            for handler in (console, file):
                logger.removeHandler(handler)
                handler.close()
        assert console.stream.writes == 1
        written[way] = (
            _without_times(console.stream.getvalue()),
            _without_times((tmp_path / f"{way}.log").read_text()),
        )

    assert written["info_lines"] == written["logging"]
    console_lines = written["info_lines"][0]
    assert len(console_lines) == 5  # the control characters escaped: one line each
    assert "sk-ant-api03" not in "".join(console_lines)
    assert "[REDACTED]" in console_lines[3]


def test_info_lines_give_any_other_handler_a_record_per_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("tests.info_lines.other")
    muted = logs.ConsoleHandler(_Writes())
    muted.setFormatter(logs.PrettyFormatter())
    muted.setLevel(logging.WARNING)  # above INFO: writes nothing
    logger.addHandler(muted)
    try:
        with caplog.at_level(logging.INFO, logger="tests.info_lines.other"):
            logs.info_lines(logger, _MESSAGES)
            logger.setLevel(logging.WARNING)
            logs.info_lines(logger, ["not at WARNING"])
    finally:
        logger.removeHandler(muted)
        logger.setLevel(logging.NOTSET)

    assert [record.getMessage() for record in caplog.records] == [
        logs.printable(logs.redact(message)) for message in _MESSAGES
    ]
    assert {record.levelname for record in caplog.records} == {"INFO"}
    assert muted.stream.getvalue() == ""


async def test_info_lines_reach_the_live_log_while_someone_watches() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(logs.LOGS_GROUP, channel)
    logs.attach_loop(asyncio.get_running_loop())
    handler = logs.ChannelsHandler()
    handler.addFilter(logs.RedactingFilter())
    logger = logging.getLogger("tests.info_lines.live")
    logger.addHandler(handler)
    try:
        # From a thread, as the recorder's.
        await asyncio.to_thread(logs.info_lines, logger, _MESSAGES)
        entries = [await asyncio.wait_for(layer.receive(channel), 5) for _ in _MESSAGES]
    finally:
        logger.removeHandler(handler)

    assert [entry["msg"] for entry in entries] == [
        logs.printable(logs.redact(message)) for message in _MESSAGES
    ]
    assert {entry["level"] for entry in entries} == {"INFO"}
