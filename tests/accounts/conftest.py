"""Fixtures for the accounts tests: the fake upstream standing in for the OAuth endpoints."""

from typing import Any

import httpx
import pytest

from tests.conftest import FakeUpstream


@pytest.fixture
def oauth_upstream(fake_upstream: FakeUpstream, settings: Any) -> FakeUpstream:
    """The fake upstream, reset, with this process's OAuth URLs pointing at it."""
    fake_upstream.reset()
    settings.OAUTH_TOKEN_URL = f"{fake_upstream.url}/v1/oauth/token"
    settings.OAUTH_CREATE_API_KEY_URL = f"{fake_upstream.url}/api/oauth/claude_cli/create_api_key"
    settings.OAUTH_USAGE_URL = f"{fake_upstream.url}/api/oauth/usage"
    return fake_upstream


def oauth_calls(fake: FakeUpstream) -> dict:
    """What the fake's OAuth endpoints saw: refresh counts per token, tokens and keys issued."""
    return httpx.get(f"{fake.url}/_fake/oauth").json()


def refreshes(fake: FakeUpstream) -> int:
    return sum(oauth_calls(fake)["refresh_counts"].values())


def token_requests(fake: FakeUpstream) -> int:
    """Requests that reached the token endpoint, including those a rule answered."""
    return sum(entry["path"] == "/v1/oauth/token" for entry in fake.log())
