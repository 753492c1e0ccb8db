"""proxy.guard's one pass over a request's headers: what it refuses and what it strips."""

from proxy import guard


def scope(*headers: tuple[bytes, bytes]) -> dict:
    return {
        "method": "POST",
        "path": "/v1/messages",
        "raw_path": b"/v1/messages",
        "headers": [(b"host", b"127.0.0.1"), *headers],
    }


def test_every_connection_line_names_hop_by_hop_headers() -> None:
    # Only the last line counted: `X-Hop` named in the first went upstream.
    admitted = guard.admit(scope((b"connection", b"X-Hop, Keep-Alive"), (b"connection", b"close")))
    assert isinstance(admitted, guard.Admission)
    assert admitted.hop_by_hop == {"x-hop", "keep-alive", "close"}


def test_a_websocket_upgrade_on_any_upgrade_line_is_refused() -> None:
    refused = guard.admit(scope((b"upgrade", b"websocket"), (b"upgrade", b"h2c")))
    assert isinstance(refused, guard.Refusal)
    assert refused.status == 400
