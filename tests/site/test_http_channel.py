"""ccflare_site.http_channel's GuardedChannel on Twisted's Clock: the deadlines' one shared
sweep (DeadlineSweep), and the channel's own address asked once.

The 408 answers themselves are checked end to end on a real daphne in
test_server_hardening.py; these check the timing rules the sweep keeps: Twisted's
idle timeout on the sweep (waiting while a request's deadline runs), and one timer for
every connection, only while any is open.
"""

from collections.abc import Iterator

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web import http
from twisted.web.http_headers import Headers

from ccflare_site import http_channel

IDLE_SECONDS = 5.0
SWEEP_SECONDS = 0.25


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    # Deadlines read the monotonic clock; the sweep's timer runs on Twisted's Clock.
    monkeypatch.setattr(http_channel.time, "monotonic", clock.seconds)
    monkeypatch.setattr(http_channel, "sweep", http_channel.DeadlineSweep())
    http_channel.sweep.interval = SWEEP_SECONDS
    yield clock


class Transport(StringTransport):
    """A TCP connection's extras that the 408 answer uses."""

    def unregisterProducer(self) -> None:  # noqa: N802 (Twisted's name)
        self.producer = None

    def loseWriteConnection(self) -> None:  # noqa: N802
        self.disconnecting = True


def open_channel(clock: Clock) -> tuple[http_channel.GuardedChannel, Transport]:
    channel = http_channel.GuardedChannel()
    channel.callLater = clock.callLater  # type: ignore[method-assign]
    channel.timeOut = IDLE_SECONDS
    transport = Transport()
    channel.makeConnection(transport)
    return channel, transport


def test_an_idle_connection_is_closed_after_its_idle_timeout(clock: Clock) -> None:
    _, transport = open_channel(clock)

    clock.advance(IDLE_SECONDS - SWEEP_SECONDS)
    assert not transport.disconnecting
    clock.pump([SWEEP_SECONDS] * 2)
    assert transport.disconnecting


def test_bytes_from_the_client_push_the_idle_timeout_back(clock: Clock) -> None:
    channel, transport = open_channel(clock)

    clock.pump([SWEEP_SECONDS] * int((IDLE_SECONDS - 1) / SWEEP_SECONDS))
    channel.resetTimeout()
    clock.pump([SWEEP_SECONDS] * int((IDLE_SECONDS - 1) / SWEEP_SECONDS))
    assert not transport.disconnecting
    clock.pump([SWEEP_SECONDS] * 8)
    assert transport.disconnecting


def test_a_header_deadline_missed_answers_408(clock: Clock) -> None:
    channel, transport = open_channel(clock)
    channel.dataReceived(b"GET /health HTTP/1.1\r\nHost: x\r\n")

    clock.pump([SWEEP_SECONDS] * int(channel.header_timeout_seconds / SWEEP_SECONDS + 2))
    assert transport.value().startswith(b"HTTP/1.1 408 Request Timeout")


def test_a_body_deadline_later_than_the_idle_timeout_still_answers_408(clock: Clock) -> None:
    channel, transport = open_channel(clock)
    channel.body_timeout_seconds = 3 * IDLE_SECONDS
    channel.dataReceived(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{")

    clock.pump([SWEEP_SECONDS] * int(2 * IDLE_SECONDS / SWEEP_SECONDS))
    assert (transport.value(), transport.disconnecting) == (b"", False)
    clock.pump([SWEEP_SECONDS] * int(IDLE_SECONDS / SWEEP_SECONDS + 2))
    assert transport.value().startswith(b"HTTP/1.1 408 Request Timeout")


def test_one_timer_serves_every_connection_and_stops_when_none_is_open(clock: Clock) -> None:
    channels = [open_channel(clock)[0] for _ in range(50)]
    assert len(clock.getDelayedCalls()) == 1

    for channel in channels:
        channel.connectionLost(http_channel.connectionDone)
    clock.advance(SWEEP_SECONDS)
    assert clock.getDelayedCalls() == []


def test_a_connections_own_address_is_asked_of_the_transport_once(clock: Clock) -> None:
    channel, transport = open_channel(clock)
    asked = []
    real = transport.getHost
    transport.getHost = lambda: asked.append(1) or real()  # type: ignore[method-assign]

    first, second = channel.getHost(), channel.getHost()

    assert first is second and first == real()
    assert len(asked) == 1


def test_the_response_head_is_written_as_twisteds_own_method_writes_it() -> None:
    headers = Headers()
    headers.addRawHeader(b"content-type", b"application/json")
    headers.addRawHeader(b"x-thing", b"first")
    headers.addRawHeader(b"X-Thing", b"second\r\nInjected: yes")  # sanitised when added
    ours, twisteds = Transport(), Transport()
    channel = http_channel.GuardedChannel()
    channel.makeConnection(ours)
    plain = http.HTTPChannel()
    plain.makeConnection(twisteds)

    channel.writeHeaders(b"HTTP/1.1", b"200", b"OK", headers)
    http.HTTPChannel.writeHeaders(plain, b"HTTP/1.1", b"200", b"OK", headers)

    assert ours.value() == twisteds.value()
    assert ours.value().startswith(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    assert b"\r\nInjected" not in ours.value()
    plain.connectionLost(None)  # type: ignore[arg-type]
    channel.connectionLost(None)  # type: ignore[arg-type]
