"""Captured headers: no credential is stored, whoever sent it and however it was spelled."""

import pytest

from analytics.recording.redaction import redact_headers


@pytest.mark.parametrize(
    "name", ["x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"]
)
def test_each_credential_header_is_redacted(name: str) -> None:
    headers = [(name.encode(), b"secret-value"), (b"content-type", b"application/json")]

    assert redact_headers(headers) == {name: "[REDACTED]", "content-type": "application/json"}


@pytest.mark.parametrize(
    "name", ["x-goog-api-key", "api-key", "x-auth-token", "x-amz-security-token", "x-app-secret"]
)
def test_other_services_credential_headers_are_redacted_too(name: str) -> None:
    headers = [(name.encode(), b"secret-value"), (b"anthropic-ratelimit-tokens-limit", b"9")]

    assert redact_headers(headers) == {
        name: "[REDACTED]",
        "anthropic-ratelimit-tokens-limit": "9",  # about tokens, not one
    }


def test_names_are_matched_whatever_their_case() -> None:
    headers = [(b"Set-Cookie", b"session=secret"), (b"Proxy-Authorization", b"Basic c2VjcmV0")]

    assert redact_headers(headers) == {
        "set-cookie": "[REDACTED]",
        "proxy-authorization": "[REDACTED]",
    }


def test_framing_headers_are_left_out() -> None:
    headers = [(b"content-length", b"12"), (b"transfer-encoding", b"chunked"), (b"x-y", b"z")]

    assert redact_headers(headers) == {"x-y": "z"}
