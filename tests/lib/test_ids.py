"""Request ids: UUID version 7, in time order (lib/ids.py)."""

import os
import time
import uuid

from lib import ids


def test_an_id_is_a_version_7_uuid_of_rfc_9562() -> None:
    value = ids.uuid7()

    assert (value.version, value.variant) == (7, uuid.RFC_4122)
    assert uuid.UUID(str(value)) == value


def test_an_id_carries_the_time_it_was_made_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = ids.uuid7()
    after = time.time_ns() // 1_000_000

    assert before <= value.int >> 80 <= after


def test_ids_made_a_millisecond_apart_sort_in_that_order_as_text() -> None:
    # The database index sees the text (SQLite) or the 128 bits (PostgreSQL): both in time order.
    made = []
    for _ in range(20):
        made.append(ids.uuid7())
        time.sleep(0.0011)

    assert sorted(made, key=str) == made
    assert sorted(made, key=lambda v: v.hex) == made


def test_ids_made_in_the_same_millisecond_differ() -> None:
    assert len({ids.uuid7() for _ in range(10_000)}) == 10_000


def test_the_text_form_is_a_version_7_uuid_written_as_uuid_writes_it() -> None:
    before = time.time_ns() // 1_000_000
    text = ids.uuid7_text()
    value = uuid.UUID(text)

    assert str(value) == text
    assert (value.version, value.variant) == (7, uuid.RFC_4122)
    assert before <= value.int >> 80 <= time.time_ns() // 1_000_000


def test_a_forked_child_makes_ids_of_its_own() -> None:
    ids.uuid7_text()  # the pool of random bytes is filled
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out
        os.write(write_end, ids.uuid7_text().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read_end, 64).decode()
    os.close(read_end)
    os.close(write_end)

    assert child[19:] != ids.uuid7_text()[19:]  # the random part after the time
