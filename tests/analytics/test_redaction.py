"""Captured headers: no credential is stored, whoever sent it and however it was spelled."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.recording.redaction import headers_json, redact_headers


@pytest.mark.parametrize(
    "name", ["x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"]
)
def test_each_credential_header_is_redacted(name: str) -> None:
    headers = [(name.encode(), b"secret-value"), (b"content-type", b"application/json")]

    assert redact_headers(headers) == {name: "[REDACTED]", "content-type": "application/json"}


@pytest.mark.parametrize(
    "name",
    [
        "x-goog-api-key",
        "api-key",
        "x-auth-token",
        "x-amz-security-token",
        "x-app-secret",
        # LLM gateways an upstream may be (UPSTREAM_BASE_URL), whose key the client sends:
        "helicone-auth",  # Helicone
        "cf-aig-authorization",  # Cloudflare AI Gateway
        "ocp-apim-subscription-key",  # Azure API Management
        "x-portkey-virtual-key",  # Portkey
        "x-auth-key",
    ],
)
def test_other_services_credential_headers_are_redacted_too(name: str) -> None:
    headers = [(name.encode(), b"secret-value"), (b"anthropic-ratelimit-tokens-limit", b"9")]

    assert redact_headers(headers) == {
        name: "[REDACTED]",
        "anthropic-ratelimit-tokens-limit": "9",  # about tokens, not one
    }


@pytest.mark.parametrize(
    "name",
    [
        "anthropic-version",
        "anthropic-beta",
        "x-stainless-retry-count",
        "user-agent",
        "request-id",
        "anthropic-ratelimit-unified-5h-utilization",
        "x-ccflare-account",
    ],
)
def test_what_the_api_and_its_clients_send_is_kept(name: str) -> None:
    assert redact_headers([(name.encode(), b"value")]) == {name: "value"}


def test_names_are_matched_whatever_their_case() -> None:
    headers = [(b"Set-Cookie", b"session=secret"), (b"Proxy-Authorization", b"Basic c2VjcmV0")]

    assert redact_headers(headers) == {
        "set-cookie": "[REDACTED]",
        "proxy-authorization": "[REDACTED]",
    }


def test_framing_headers_are_left_out() -> None:
    headers = [(b"content-length", b"12"), (b"transfer-encoding", b"chunked"), (b"x-y", b"z")]

    assert redact_headers(headers) == {"x-y": "z"}


@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"X-Api-Key", b"x-api-key", b"Content-Length", b"a", b"A", b'b"\\'])
            | st.binary(min_size=1, max_size=8),
            st.binary(max_size=12),
        ),
        max_size=6,
    )
)
def test_the_headers_json_is_the_redacted_dict_whatever_the_names_and_values(
    headers: list[tuple[bytes, bytes]],
) -> None:
    assert json.loads(headers_json(headers)) == redact_headers(headers)


def test_a_name_sent_twice_keeps_its_last_value_in_the_json_as_in_the_dict() -> None:
    headers = [
        (b"Anthropic-Beta", b"one"),
        (b"x-y", b'"q" \\ \x01 \xe9'),
        (b"anthropic-beta", b"two"),
    ]

    text = headers_json(headers)

    assert json.loads(text) == {"anthropic-beta": "two", "x-y": '"q" \\ \x01 é'}
    assert text.count("anthropic-beta") == 1
