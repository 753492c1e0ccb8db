"""Which headers go upstream: credentials swapped, hop-by-hop dropped, beta flags merged."""

from proxy import upstream

CLIENT = [
    (b"host", b"127.0.0.1:8080"),
    (b"x-api-key", b"client-key"),
    (b"authorization", b"Bearer client-token"),
    (b"anthropic-version", b"2023-06-01"),
    (b"anthropic-beta", b"prompt-caching-2024-07-31, fine-grained-tool-streaming-2025-05-14"),
    (b"accept-encoding", b"gzip"),
    (b"connection", b"keep-alive"),
    (b"content-length", b"12"),
    (b"content-type", b"application/json"),
    (b"user-agent", b"claude-cli/2.1"),
]


def test_api_key_account_replaces_client_credentials() -> None:
    headers = dict(upstream.build_headers(CLIENT, api_key="sk-account"))
    assert headers["x-api-key"] == "sk-account"
    assert "authorization" not in headers
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["user-agent"] == "claude-cli/2.1"
    assert headers["anthropic-beta"].startswith("prompt-caching")


def test_hop_by_hop_host_and_encoding_are_dropped() -> None:
    headers = upstream.build_headers(CLIENT, api_key="k")
    names = [name for name, _ in headers]
    for dropped in ("host", "connection", "content-length"):
        assert dropped not in names
    assert ("accept-encoding", "gzip") not in headers  # the client's: identity instead


def test_the_upstream_is_asked_for_an_answer_without_content_coding() -> None:
    # Without an Accept-Encoding it could gzip the answer, whose usage then goes unread.
    for credential in ({"api_key": "k"}, {"bearer": "t"}, {}):
        headers = upstream.build_headers(CLIENT, **credential)  # type: ignore[arg-type]
        assert [v for n, v in headers if n == "accept-encoding"] == ["identity"]


def test_oauth_account_sends_bearer_and_merges_beta_flag() -> None:
    headers = dict(upstream.build_headers(CLIENT, bearer="oauth-token"))
    assert headers["authorization"] == "Bearer oauth-token"
    assert "x-api-key" not in headers
    # The headers after anthropic-beta (which is merged, not copied) still go.
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "claude-cli/2.1"
    assert headers["anthropic-beta"] == (
        "prompt-caching-2024-07-31,fine-grained-tool-streaming-2025-05-14,oauth-2025-04-20"
    )


def test_oauth_beta_flag_is_not_duplicated() -> None:
    assert upstream.merge_beta("oauth-2025-04-20") == "oauth-2025-04-20"
    assert upstream.merge_beta(None) == "oauth-2025-04-20"


def test_passthrough_keeps_client_credentials() -> None:
    headers = dict(upstream.build_headers(CLIENT))
    assert headers["x-api-key"] == "client-key"
    assert headers["authorization"] == "Bearer client-token"


def test_strip_removes_named_headers() -> None:
    headers = dict(upstream.build_headers(CLIENT, api_key="k", strip=frozenset({"user-agent"})))
    assert "user-agent" not in headers


def test_expect_is_not_forwarded() -> None:
    # The proxy holds the whole body: an upstream asked to expect it answers 417 to
    # anything but 100-continue, and 100-continue only delays it.
    for value in (b"100-continue", b"200-ok"):
        headers = upstream.build_headers([*CLIENT, (b"expect", value)], api_key="k")
        assert "expect" not in [name for name, _ in headers]
