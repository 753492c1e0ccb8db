"""Reading and writing agent files: regular files only, never through a symlink, bounded.

An agents folder may hold anything a local user or a checked-out repository put there:
a FIFO (an open blocks), a symlink to /dev/zero (a read never ends) or to a file only
the server's user may read (its text would reach /api/agents and the log). So a file
is used only when it is a regular file and not a symlink (lstat), it is opened with
O_NOFOLLOW and O_NONBLOCK (a FIFO or symlink swapped in after the lstat can neither
block nor redirect the open), checked again on the open descriptor (fstat), and read
up to the size limit + 1 bytes whatever its size said.

Folders get the same rule: `checked_folder` refuses a symlink anywhere in the chain
below the folder one starts from, and with `owner` a folder another user owns.
"""

import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 256 * 1024

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnsafeFile(OSError):
    """Not a regular file of ours, or too large; the message says which (no content)."""


def read_text(path: Path, *, limit: int = MAX_FILE_BYTES) -> str:
    """The file's text (UTF-8); raises UnsafeFile, OSError or UnicodeDecodeError."""
    _require_regular(os.lstat(path))
    fd = os.open(path, _READ)
    try:
        _require_regular(os.fstat(fd))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise UnsafeFile(f"larger than {limit // 1024} KB")
    return b"".join(chunks).decode("utf-8")


def write_text(path: Path, text: str) -> None:
    """Replace the contents of an existing regular file (never through a symlink)."""
    data = text.encode("utf-8")
    _require_regular(os.lstat(path))
    fd = os.open(path, _WRITE)
    try:
        _require_regular(os.fstat(fd))
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def reason(exc: Exception) -> str:
    """Why a file could not be used, for a log line or an API error: never its content,
    and not the path again (an OSError's text repeats it)."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, OSError) and not isinstance(exc, UnsafeFile):
        return exc.strerror or type(exc).__name__
    return str(exc)


def _require_regular(info: os.stat_result) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFile("a symlink")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile("not a regular file")


def is_own_folder(path: str | Path, *, owner: int | None) -> bool:
    """Whether `path` is a directory and not a symlink (owned by `owner` when given)."""
    try:
        info = os.lstat(path)
    except (OSError, ValueError):
        return False
    return stat.S_ISDIR(info.st_mode) and (owner is None or info.st_uid == owner)


def is_regular(path: Path) -> bool:
    """Whether `path` is a regular file and not a symlink."""
    try:
        info = os.lstat(path)
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(info.st_mode)


def checked_folder(base: Path, *parts: str, owner: int | None) -> bool:
    """Whether `base` and each folder below it (`base/parts[0]/...`) pass `is_own_folder`."""
    folder = base
    for part in ("", *parts):
        folder = folder / part if part else folder
        if not is_own_folder(folder, owner=owner):
            return False
    return True
