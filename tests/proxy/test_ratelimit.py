"""Reading rate-limit headers and deciding how long an account sits out."""

from datetime import UTC, datetime

import pytest

from accounts.models import Account
from lib.h1.head import parse_head
from proxy import attempts, ratelimit

NOW = 1_800_000_000.0


def read(headers: dict[str, str]) -> ratelimit.RateLimitInfo:
    """ratelimit.read of these headers, as the upstream client hands them over."""
    return ratelimit.read(raw(headers), now=NOW)


def raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in headers.items()]


def parse(**headers: str) -> ratelimit.RateLimitInfo:
    return read({k.replace("_", "-"): v for k, v in headers.items()})


def test_reads_unified_and_window_headers() -> None:
    info = read(
        {
            "anthropic-ratelimit-unified-status": "allowed_warning",
            "anthropic-ratelimit-unified-reset": "1800003600",
            "anthropic-ratelimit-unified-remaining": "12",
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
            "anthropic-ratelimit-unified-5h-utilization": "0.82",
            "anthropic-ratelimit-unified-5h-reset": "1800003600",
            "anthropic-ratelimit-unified-7d-utilization": "0.4",
            "anthropic-ratelimit-unified-7d-reset": "1800500000",
            "anthropic-ratelimit-unified-overage-status": "rejected",
        }
    )
    assert info.status == "allowed_warning"
    assert info.reset == 1800003600
    assert info.remaining == 12
    assert info.claim == "five_hour"
    assert info.five_hour_utilization == 0.82
    assert info.seven_day_reset == 1800500000
    assert info.overage_status == "rejected"
    assert ratelimit.is_blocking(200, info) is False


@pytest.mark.parametrize(
    ("status_code", "unified", "blocking"),
    [
        (429, None, True),
        (200, "rejected", True),
        (200, "rate_limited", True),
        (200, "allowed_warning", False),
        (200, "allowed", False),
        (500, None, False),
        # A server error is the upstream's trouble, whatever its headers say.
        (529, "rejected", False),
        (500, "rejected", False),
        (400, "rejected", True),
    ],
)
def test_blocking_statuses(status_code: int, unified: str | None, blocking: bool) -> None:
    headers = {} if unified is None else {"anthropic-ratelimit-unified-status": unified}
    info = read(headers)
    assert ratelimit.is_blocking(status_code, info) is blocking


def test_full_window_blocks_until_that_windows_reset() -> None:
    info = read(
        {
            "anthropic-ratelimit-unified-7d-utilization": "1.0",
            "anthropic-ratelimit-unified-7d-reset": str(NOW + 86400),
        }
    )
    assert ratelimit.is_blocking(200, info) is True
    assert ratelimit.blocked_until(info, now=NOW, fallback_seconds=60) == NOW + 86400


def test_full_window_blocks_until_its_reset_whatever_the_status() -> None:
    info = read(
        {
            "anthropic-ratelimit-unified-status": "allowed_warning",
            "anthropic-ratelimit-unified-5h-utilization": "1.0",
            "anthropic-ratelimit-unified-5h-reset": str(NOW + 3600),
        }
    )
    assert ratelimit.is_blocking(200, info) is True
    assert ratelimit.blocked_until(info, now=NOW, fallback_seconds=60) == NOW + 3600


@pytest.mark.parametrize(
    ("headers", "until"),
    [
        (
            {
                "anthropic-ratelimit-unified-status": "rejected",
                "anthropic-ratelimit-unified-reset": str(int(NOW) + 900),
                "retry-after": "30",
            },
            NOW + 900,
        ),
        ({"retry-after": "30"}, NOW + 30),
        ({"retry-after": "Thu, 15 Jan 2027 08:00:30 GMT"}, 1800000030.0),
        ({"x-ratelimit-reset": str(int(NOW) + 120)}, NOW + 120),
        ({}, NOW + 60),
        # A reset that is now has passed: the next source decides.
        (
            {
                "anthropic-ratelimit-unified-status": "rejected",
                "anthropic-ratelimit-unified-reset": str(int(NOW)),
                "retry-after": "30",
            },
            NOW + 30,
        ),
        ({"x-ratelimit-reset": str(int(NOW))}, NOW + 60),
        # retry-after of zero, or a date already past: usable again now.
        ({"retry-after": "0"}, NOW),
        ({"retry-after": "Thu, 15 Jan 2027 07:59:00 GMT"}, NOW),
        (
            {
                "anthropic-ratelimit-unified-status": "allowed",
                "anthropic-ratelimit-unified-reset": str(int(NOW) + 9000),
            },
            NOW + 60,
        ),
    ],
)
def test_blocked_until_prefers_the_most_specific_reset(headers: dict, until: float) -> None:
    info = read(headers)
    assert ratelimit.blocked_until(info, now=NOW, fallback_seconds=60) == until


TEN_YEARS = str(int(NOW) + 10 * 365 * 86400)


@pytest.mark.parametrize(
    "headers",
    [
        {
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": TEN_YEARS,
        },
        {"retry-after": str(10 * 365 * 86400)},
        {"x-ratelimit-reset": TEN_YEARS},
        {
            "anthropic-ratelimit-unified-7d-utilization": "1.0",
            "anthropic-ratelimit-unified-7d-reset": TEN_YEARS,
        },
    ],
)
def test_a_wait_longer_than_any_window_is_no_answer(headers: dict) -> None:
    # Was clamped to 8 days: one broken header benched every account it came from for a
    # week. Unreadable, it benches for the fallback and the account is asked again then.
    info = read(headers)
    assert ratelimit.blocked_until(info, now=NOW, fallback_seconds=60) == NOW + 60


@pytest.mark.parametrize(
    "name",
    [
        "anthropic-ratelimit-unified-reset",
        "anthropic-ratelimit-unified-5h-reset",
        "anthropic-ratelimit-unified-7d-reset",
        "x-ratelimit-reset",
    ],
)
@pytest.mark.parametrize(
    ("value", "read_as"),
    [("1000", None), (str(int(NOW) - 2 * 86400), None), (str(int(NOW) - 3600), NOW - 3600)],
)
def test_a_reset_long_past_is_no_answer_and_a_recent_one_is_kept(
    name: str, value: str, read_as: float | None
) -> None:
    # Stored, `1000` showed an account's limit resetting at 1970-01-01T00:16:40.
    field, _ = ratelimit._RAW_FIELDS[name.encode()]

    assert getattr(read({name: value}), field) == read_as


def test_garbage_values_are_ignored() -> None:
    info = parse(**{"anthropic-ratelimit-unified-reset": "soon", "retry-after": "later"})
    assert info.reset is None
    assert info.retry_after is None


def test_numbers_are_read_from_the_raw_bytes_as_from_their_text() -> None:
    # The numbers are read without decoding the header first: a byte no text number has
    # is no answer, as it was for the decoded text, and the text values keep such bytes.
    info = ratelimit.read(
        [
            (b"anthropic-ratelimit-unified-reset", b"18\xb2"),
            (b"anthropic-ratelimit-unified-remaining", b" 12 "),
            (b"anthropic-ratelimit-unified-5h-utilization", b"nan"),
            (b"anthropic-ratelimit-unified-7d-utilization", b"1e0"),
            (b"anthropic-ratelimit-unified-status", b"allowed\xe9"),
        ],
        now=NOW,
    )

    assert (info.reset, info.remaining) == (None, 12)
    assert (info.five_hour_utilization, info.seven_day_utilization) == (None, 1.0)
    assert info.status == "allowed\u00e9"


def test_an_answer_without_limit_headers_reads_as_nothing_present() -> None:
    info = ratelimit.read([(b"content-type", b"application/json")], now=NOW)

    assert not info.present
    assert info == ratelimit.RateLimitInfo()


def test_the_limit_headers_are_read_whatever_their_case() -> None:
    # As the upstream client parses them (it lowers the names once, for every reader).
    head = parse_head(
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: application/json\r\n"
        b"Anthropic-RateLimit-Unified-Status: rejected\r\n"
        b"anthropic-ratelimit-unified-status: allowed\r\n"  # a repeat: the first wins
        b"Retry-After: 30\r\n"
        b"X-RateLimit-Reset: 1800000120\r\n"
        b"request-id: req_1"
    )

    info = ratelimit.read(head.raw_headers, now=NOW)

    assert (info.status, info.retry_after, info.fallback_reset) == ("rejected", 30.0, 1800000120)
    assert ratelimit.has_limit_headers(head.raw_headers)
    assert ratelimit.has_limit_headers(raw({"anthropic-ratelimit-requests-limit": "50"}))
    assert not ratelimit.has_limit_headers(raw({"retry-after": "5", "request-id": "req_1"}))


@pytest.mark.parametrize("column", ["rate_limit_status", "rate_limit_claim", "overage_status"])
def test_header_text_is_cut_to_the_length_of_the_column_that_keeps_it(column: str) -> None:
    info = ratelimit.read(
        [
            (b"anthropic-ratelimit-unified-status", b"s" * 40),
            (b"anthropic-ratelimit-unified-representative-claim", b"c" * 40),
            (b"anthropic-ratelimit-unified-overage-status", b"o" * 40),
        ],
        now=0.0,
    )
    field = {"rate_limit_status": "status", "rate_limit_claim": "claim"}.get(column, column)

    assert len(getattr(info, field)) == Account._meta.get_field(column).max_length


def test_the_moments_of_resets_are_kept_for_reuse_but_not_without_bound() -> None:
    first = attempts._dt(NOW)
    assert first == datetime.fromtimestamp(NOW, tz=UTC)
    assert attempts._dt(NOW) is first  # a window's reset comes with every answer
    for offset in range(3 * attempts._MOMENTS_KEPT):  # e.g. each benching's own "until"
        assert attempts._dt(NOW + offset) == datetime.fromtimestamp(NOW + offset, tz=UTC)
    assert len(attempts._moments) <= attempts._MOMENTS_KEPT
    assert attempts._dt(None) is None
