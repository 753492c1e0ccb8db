"""Log plumbing that settings.LOGGING wires up: redaction, JSON lines, live publishing, history.

Loaded while logging is configured, before the apps are ready: no model imports here.
"""

import asyncio
import contextlib
import fcntl
import json
import logging
import logging.handlers
import os
import re
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from json.encoder import encode_basestring_ascii
from pathlib import Path
from types import TracebackType

from analytics.live import events
from lib.escapes import printable

LOGS_GROUP = "logs"

# Credentials that must never reach a log line, whoever wrote the message. The
# first group of each pattern (a label such as "Bearer ") is kept. Each comes with
# words of which its matches always contain one (case-folded): most lines, each
# request's access-log line among them, contain none, and a substring test is
# cheaper than any of the scans (8 -> 1 µs per access-log line).
_SECRETS = [
    (("sk-ant-",), re.compile(r"()sk-ant-[A-Za-z0-9_\-]{4,}")),
    (("cct_", "cck_"), re.compile(r"()\bcc[tk]_[A-Za-z0-9_\-]{4,}")),
    (("bearer",), re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}")),
    (
        ("api", "access_token", "refresh_token", "password", "secret", "authorization"),
        re.compile(
            r"(?i)((?:api[_-]?key|access_token|refresh_token|password|secret|authorization)"
            r"[\"']?\s*[:=]\s*[\"']?)(?!bearer\s|\[REDACTED)[^\s\"',;&}]{4,}"
        ),
    ),
    # Query parameters such as ?key=, &token=, ?x-api-key=, ?sig= in a URL
    # (daphne's access log prints each request's full path). Its words end in "=", as
    # its matches do: each request's own line says `tokens=` and must not set it off.
    (
        ("key=", "token=", "secret=", "password=", "signature=", "sig=", "auth="),
        re.compile(
            r"(?i)([?&][\w.\-]*?(?:key|token|secret|password|signature|sig|auth)=)"
            r"(?!\[REDACTED)[^&\s#\"']+"
        ),
    ),
]
# The first three are credentials by their own shape; the others by a label before them,
# which an ordinary sentence may also use ("Authorization: Bearer", "secret: Field required").
_SHAPED = _SECRETS[:3]
REDACTED = "[REDACTED]"
# Every guard word in one search: the common line, with none of them, is done in one scan.
_ANY_WORD = re.compile("|".join(re.escape(word) for words, _ in _SECRETS for word in words))
# Our own publishing path and the channel layer must not feed the live stream
# (a failure there would log, publish, fail and log again).
_NOT_LIVE = ("analytics.operations.logs", "channels", "asyncio")


# The server's event loop, where records logged from other threads are published.
_loop: asyncio.AbstractEventLoop | None = None


def attach_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the server's loop (called from code that runs on it: streams, background)."""
    global _loop
    _loop = loop


def redact(text: str) -> str:
    lowered = text.casefold()
    if _ANY_WORD.search(lowered) is None:
        return text
    for words, pattern in _SECRETS:
        if any(map(lowered.__contains__, words)):
            text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


def redact_credentials(text: str) -> str:
    """`text` with the credentials known by their shape redacted (sk-ant- keys and tokens,
    ccflare's keys, Bearer values), the rest left whole: for a message people read
    elsewhere than in the log, such as a request's recorded error."""
    lowered = text.casefold()
    for words, pattern in _SHAPED:
        if any(map(lowered.__contains__, words)):
            text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


class RedactingFilter(logging.Filter):
    """Replaces the message of every record with its redacted, printable, formatted form.

    Once per record: each handler has this filter and is handed the same record, and
    the second and third passes found nothing new at a third of a request line's cost.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.__dict__.get(_CLEAN, _NONE) is not record.msg:
            record.msg, record.args = printable(redact(record.getMessage())), None
            record.__dict__[_CLEAN] = record.msg
        return True


# The message a RedactingFilter left on a record: one changed since is redacted again.
_CLEAN = "_redacted_msg"
_NONE = object()


class WithoutTraceback(logging.Filter):
    """A client's mistake logged as one WARNING line: no traceback, not an ERROR.

    Put on a logger such as `django.security.DisallowedHost`: a bad Host header is
    the client's mistake, 3 KB of Django's own stack per request would let anyone
    fill the log, and Django's ERROR level would let anyone set off alerts meant for
    the server's own failures.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            # Django logged it as an ERROR; kept only where warnings are (LOG_LEVEL).
            return logging.getLogger().isEnabledFor(logging.WARNING)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: {ts (epoch ms), level, logger, msg[, exc]}."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": int(record.created * 1000),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)

    def info_line(self, created: float, name: str, message: str) -> str:
        """What `format` makes of an INFO record without exception (info_lines)."""
        logger, text = encode_basestring_ascii(name), encode_basestring_ascii(message)
        return (
            f'{{"ts": {int(created * 1000)}, "level": "INFO", "logger": {logger}, "msg": {text}}}'
        )


class PrettyFormatter(logging.Formatter):
    """`[time] LEVEL: [logger] message`, for people reading a console."""

    def __init__(self) -> None:
        super().__init__("[{asctime}] {levelname}: [{name}] {message}", style="{")
        self._second: tuple[int, str] = (-1, "")

    def formatTime(  # noqa: N802 (logging's name)
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        """logging's own time, its date and clock written once a second, not per line."""
        if datefmt:
            return super().formatTime(record, datefmt)
        return self._asctime(record.created, record.msecs)

    def _asctime(self, created: float, msecs: float) -> str:
        second = int(created)
        cached, stamp = self._second
        if cached != second:
            stamp = time.strftime(self.default_time_format, self.converter(second))
            self._second = (second, stamp)
        msec_format = self.default_msec_format
        return msec_format % (stamp, msecs) if msec_format else stamp

    def info_line(self, created: float, name: str, message: str) -> str:
        """What `format` makes of an INFO record without exception (info_lines)."""
        # A record's msecs, as logging.LogRecord works them out.
        msecs = int((created - int(created)) * 1000) + 0.0
        return f"[{self._asctime(created, msecs)}] INFO: [{name}] {message}"

    def formatException(  # noqa: N802
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        return redact(super().formatException(ei))


_held = threading.local()


@contextlib.contextmanager
def lines_held() -> Iterator[None]:
    """Within it, this thread's lines for the console and the log file are kept, then
    written when it ends: one write for each instead of one per line.

    For the recorder's line per request (write_behind.log_requests): a write of its own
    for each line made the recorder's thread let go of the GIL and wait to get it back
    twice a request, and at LOG_LEVEL=INFO the server took about 150 µs more CPU per
    request (docs/performance.md). Other threads' lines are written meanwhile as ever.
    """
    if getattr(_held, "lines", None) is not None:
        yield  # within another: that one writes them
        return
    _held.lines = {}
    try:
        yield
    finally:
        held, _held.lines = _held.lines, None
        for handler, records in held.items():
            handler.write_held(records)


def info_lines(logger: logging.Logger, messages: Sequence[str]) -> None:
    """Each message as an INFO line of `logger`: what `logger.info(message)` would write,
    made for many lines at once (the recorder's line per request).

    Through logging, each line made a record, passed the redacting filter and three
    handlers' formatters: about 60 µs of the GIL a request on a slow core, which the
    requests in flight waited for at LOG_LEVEL=INFO, the default (docs/performance.md).
    Here each message is redacted and made printable once, and each of our handlers
    writes every line at once, from one timestamp. A handler of another kind or with
    another filter (a test's capture) gets a record per line, as from logging.
    """
    if not messages or not logger.isEnabledFor(logging.INFO):
        return
    if logger.filters:  # a filter of the logger's own sees every record
        for message in messages:
            logger.info("%s", message)
        return
    clean = [printable(redact(message)) for message in messages]
    created, name = time.time(), logger.name
    for handler in _handlers_of(logger):
        if handler.level > logging.INFO:
            continue
        write_lines = getattr(handler, "write_lines", None)
        if (
            write_lines is None
            or not all(isinstance(each, RedactingFilter) for each in handler.filters)
            or not write_lines(name, created, clean)
        ):
            for message in clean:
                handler.handle(logger.makeRecord(name, logging.INFO, "", 0, message, (), None))


def _handlers_of(logger: logging.Logger) -> Iterator[logging.Handler]:
    """The handlers a record of `logger` reaches, in logging's order (callHandlers)."""
    current: logging.Logger | None = logger
    while current is not None:
        yield from current.handlers
        if not current.propagate:
            return
        current = current.parent


class HoldsLines(logging.StreamHandler):
    """A handler whose lines a thread can hold back within lines_held(). Every line,
    held or not, is written by write_text."""

    def emit(self, record: logging.LogRecord) -> None:
        held: dict[HoldsLines, list[logging.LogRecord | str]] | None = getattr(_held, "lines", None)
        if held is None:
            self.write_held([record])
        else:
            held.setdefault(self, []).append(record)

    def write_lines(self, name: str, created: float, messages: Sequence[str]) -> bool:
        """INFO lines of logger `name` (info_lines), held back like records within
        lines_held(); False when this handler's formatter cannot write them so."""
        line = getattr(self.formatter, "info_line", None)
        if line is None:
            return False
        end = self.terminator
        text = "".join([line(created, name, message) + end for message in messages])
        held: dict[HoldsLines, list[logging.LogRecord | str]] | None = getattr(_held, "lines", None)
        if held is not None:
            held.setdefault(self, []).append(text)
            return True
        self.write_held([text])
        return True

    def write_held(self, items: list[logging.LogRecord | str]) -> None:
        """Write the lines held back (records, and texts from write_lines), in one go,
        under the handler's lock."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            try:
                end = self.terminator
                self.write_text(
                    "".join(
                        item if isinstance(item, str) else self.format(item) + end for item in items
                    )
                )
            except Exception:
                last = items[-1]
                self.handleError(
                    last if not isinstance(last, str) else logging.makeLogRecord({"msg": last})
                )

    def write_text(self, text: str) -> None:
        raise NotImplementedError


class ConsoleHandler(HoldsLines, logging.StreamHandler):
    """logging's StreamHandler (stderr), whose lines lines_held() can hold back."""

    def write_text(self, text: str) -> None:
        self.stream.write(text)
        self.flush()


class LogFileHandler(HoldsLines, logging.handlers.RotatingFileHandler):
    """The log file, shared by every server process (WORKERS) and rotated by its size.

    Each write goes to the file the path names at that moment: one rotated by another
    process, or renamed or removed by logrotate or by hand, is let go and the path
    opened again (as logging's WatchedFileHandler does). Rotation happens under a lock
    that the processes share, so that one of them rotates, not each in turn.

    When the file cannot be written (a full disk), it says so on stderr at once and
    then once a minute, not per line: logging's own handleError printed a traceback of
    some 25 lines per record, 12 MB of stderr in 30 s. Every line lost is counted, and
    once a write works again the count is told on stderr and as a line in the file.
    """

    QUIET_SECONDS = 60.0
    # How long a write may go on to a file the path no longer names (another process
    # rotated it, logrotate renamed it): a tenth of a second, about one recorder flush.
    WATCH_SECONDS = 0.1
    _looked_at = float("-inf")
    _told_at = float("-inf")
    _lost = 0  # lines lost since the file last said how many
    _error: OSError | None = None  # the last write's failure
    _cut_short = False  # a failed write left part of a line at the file's end
    _regular = True
    _identity = (0, 0)  # st_dev, st_ino of the file open
    _lock_fd: int | None = None

    def _open(self):  # type: ignore[no-untyped-def]  # logging's own, untyped
        stream = super()._open()
        status = os.fstat(stream.fileno())
        self._identity = (status.st_dev, status.st_ino)
        # bpo-45401: nothing but a regular file is rotated (a log sent to /dev/null). Looked
        # at when the file is opened; logging looked (two stat calls) before every line.
        self._regular = stat.S_ISREG(status.st_mode)
        return stream

    def write_text(self, text: str) -> None:
        """Write whole lines at the end of the file; lines that do not reach it are counted."""
        if self._lost and not self._write(self._lost_line()):
            self._tell(f"is written again; lines lost meanwhile: {self._lost}")
            self._lost, self._told_at = 0, float("-inf")
        missing = self._write(text)
        if missing:
            self._lost += missing
            if time.monotonic() - self._told_at >= self.QUIET_SECONDS:
                self._told_at = time.monotonic()
                self._tell(f"cannot be written ({self._error}); lines lost so far: {self._lost}")

    def _write(self, text: str) -> int:
        """Write `text`, which ends a line; the number of its lines that did not reach the
        file (0: all did). Written straight to the file descriptor, with no buffer that
        would keep what a failed write left and put it out later."""
        data, written = b"", 0
        try:
            fd = self._make_room(len(text))
            data = text.encode(self.stream.encoding, self.stream.errors)
            if self._cut_short:
                self._end_line(fd)
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError as error:
            self._error = error
            self._drop_stream()
            if written and data[written - 1] != ord("\n"):
                self._cut_short = True
            return text.count("\n") - data[:written].count(b"\n")
        return 0

    def _make_room(self, length: int) -> int:
        """The descriptor of the file the path names, rotated first when `length` more
        bytes take it to maxBytes.

        1. The path is looked up (_follow_path): if it names another file than the one
           open (rotated by another process, logrotate, rm), that one is let go.
        2. Only when the file looks full is the lock taken, and the path and size
           looked at again under it: another process may have rotated it meanwhile.
        """
        self._follow_path()
        if self._rolls_over(length):
            with self._rotation_lock():
                self._follow_path(now=True)
                if self._rolls_over(length):
                    self.doRollover()
                    self._follow_path()
        return self.stream.fileno()

    def _follow_path(self, *, now: bool = False) -> None:
        """Opens the file the path names if it is not the one open: looked up at most
        every WATCH_SECONDS unless `now` (a lookup per line cost more than a tenth of
        a line's cost)."""
        if self.stream is not None:
            looked_at = time.monotonic()
            if not now and looked_at - self._looked_at < self.WATCH_SECONDS:
                return
            self._looked_at = looked_at
            try:
                status = os.stat(self.baseFilename)
                if (status.st_dev, status.st_ino) == self._identity:
                    return
            except FileNotFoundError:
                pass
            self._drop_stream()
        self.stream = self._open()

    def _rolls_over(self, length: int) -> bool:
        """Whether `length` more bytes take the file to maxBytes (whoever else writes it)."""
        if self.maxBytes <= 0 or not self._regular:
            return False
        return os.lseek(self.stream.fileno(), 0, os.SEEK_END) + length >= self.maxBytes

    @contextlib.contextmanager
    def _rotation_lock(self) -> Iterator[None]:
        """An advisory lock on a file beside the log, which every process takes to rotate."""
        if self._lock_fd is None:
            self._lock_fd = os.open(f"{self.baseFilename}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _end_line(self, fd: int) -> None:
        """After a write cut short, which left part of a line: a newline first, unless the
        file ends with one (rotated or written since), so the next line is not glued on."""
        size = os.lseek(fd, 0, os.SEEK_END)
        ended = size == 0
        with contextlib.suppress(OSError), open(self.baseFilename, "rb") as file:
            file.seek(max(size - 1, 0))
            ended = ended or file.read(1) == b"\n"
        if not ended:  # or unknown: an empty line does less harm than a glued one
            os.write(fd, b"\n")
        self._cut_short = False

    def _lost_line(self) -> str:
        record = logging.makeLogRecord(
            {
                "name": __name__,
                "levelno": logging.WARNING,
                "levelname": "WARNING",
                "msg": f"log lines lost while the log file could not be written "
                f"({self._error}): {self._lost}",
            }
        )
        return self.format(record) + self.terminator

    def _tell(self, news: str) -> None:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"ccflare: the log file {self.baseFilename} {news}\n")

    def _drop_stream(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
        super().close()


class ChannelsHandler(logging.Handler):
    """Publishes each record to the `logs` channel group, never blocking the caller.

    The record is handed to the server's event loop with call_soon_threadsafe
    (see attach_loop; a record logged on a running loop attaches it too); with no
    loop known yet, or once it is closed, records are dropped: the file has them.
    """

    def emit(self, record: logging.LogRecord) -> None:
        # Nobody watching the live logs: nothing to build or hand over (every request logs).
        if record.name.startswith(_NOT_LIVE) or not events.has_listeners(LOGS_GROUP):
            return
        entry = {
            "ts": int(record.created * 1000),
            "level": client_level(record.levelname),
            "msg": record.msg,
        }
        self._hand_over([entry])

    def write_lines(self, name: str, created: float, messages: Sequence[str]) -> bool:
        """INFO lines of logger `name` (info_lines), one entry each."""
        if name.startswith(_NOT_LIVE) or not events.has_listeners(LOGS_GROUP):
            return True
        ts = int(created * 1000)
        self._hand_over([{"ts": ts, "level": "INFO", "msg": message} for message in messages])
        return True

    def _hand_over(self, entries: list[dict]) -> None:
        loop = self._current_loop()
        if loop is None:
            return
        try:
            for entry in entries:
                loop.call_soon_threadsafe(_publish, entry)
        except RuntimeError:
            pass  # closed meanwhile

    def _current_loop(self) -> asyncio.AbstractEventLoop | None:
        try:
            attach_loop(asyncio.get_running_loop())
        except RuntimeError:
            pass
        return None if _loop is None or _loop.is_closed() else _loop


def _publish(entry: dict) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is not None:
        task = asyncio.ensure_future(layer.group_send(LOGS_GROUP, {"type": "log.entry", **entry}))
        task.add_done_callback(_ignore_failure)


def _ignore_failure(task: asyncio.Future) -> None:
    # Live logs are best-effort; retrieving the exception keeps asyncio quiet.
    if not task.cancelled():
        task.exception()


def history(path: Path, *, lines: int) -> list[dict]:
    """The last `lines` entries of the JSON log file as {ts, level, msg}, oldest first."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as handle:
        tail = deque(handle, maxlen=lines)
    return [entry for entry in map(parse, tail) if entry is not None]


def parse(line: str) -> dict | None:
    """One JSON log line as {ts, level, msg}; None for anything else."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    level = entry.get("level")
    return {
        "ts": entry.get("ts"),
        "level": client_level(level) if isinstance(level, str) else level,
        "msg": entry.get("msg"),
    }


def client_level(levelname: str) -> str:
    """The level as ccflare's clients name it: WARN, not Python's WARNING (the file keeps it)."""
    return "WARN" if levelname == "WARNING" else levelname
