"""Time-ordered ids for the rows written at the request rate (UUID version 7, RFC 9562).

A random (version 4) primary key sends every insert to a random page of the key's
index, so each batch the recorder writes dirties a page per row, and once the table
outgrows SQLite's page cache each insert reads a page from disk too. Version 7 ids
start with the time in milliseconds: new keys land at the end of the index, the way
an autoincrement would, and stay UUIDs for the API and the links that show them.
Measured on the recorder's batch writer with 100,000 rows in the table: 75 -> 55 µs
of CPU per recorded request (docs/performance.md).
"""

import os
import threading
import time
import uuid

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_RAND_B = (1 << 62) - 1


def uuid7() -> uuid.UUID:
    """48 bits of Unix time in ms, version 7, then 74 random bits (12 + 62, around the variant)."""
    return uuid.UUID(int=_uuid7_int())


def uuid7_text() -> str:
    """A uuid7() in its usual text form, without building the UUID object (per request)."""
    digits = f"{_uuid7_int():032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _uuid7_int() -> int:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(_random_bytes(), "big")  # 80 bits; the top 6 are not used
    rand_a = (rand >> 62) & 0xFFF
    return (ms << 80) | _VERSION | (rand_a << 64) | _VARIANT | (rand & _RAND_B)


# The kernel's random bytes fetched for many ids at once: one getrandom call per request
# was a system call on the hot path. Still the OS's CSPRNG, as RFC 9562 asks.
_POOL_IDS = 256
_pool = b""
_used = 0
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """A forked child must not hand out its parent's bytes again (the same ids)."""
    global _pool, _used
    _pool, _used = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def _random_bytes() -> bytes:
    global _pool, _used
    with _pool_lock:
        if _used >= len(_pool):
            _pool, _used = os.urandom(10 * _POOL_IDS), 0
        start = _used
        _used += 10
    return _pool[start : start + 10]
