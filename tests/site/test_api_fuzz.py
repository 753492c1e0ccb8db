"""Property-based fuzz of every API operation: no input may produce a 500.

Hypothesis draws path segments, query strings and JSON bodies (mostly near the
real parameter names, sometimes anything) for each operation of the OpenAPI
schema. The SSE streams never end, so they are tested against a real server
instead (test_live.py); compact takes no input and needs autocommit.
"""

import json
import re
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account
from ccflare_site.api import api
from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db

SKIPPED = {"/api/requests/stream", "/api/logs/stream", "/api/maintenance/compact"}


def _operations() -> list[tuple[str, str, dict]]:
    found = []
    for path, methods in api.get_openapi_schema()["paths"].items():
        for method, operation in methods.items():
            if path not in SKIPPED:
                found.append((method.upper(), path, operation))
    return found


OPERATIONS = _operations()
NAMES = sorted(
    {
        p["name"]
        for _, _, op in OPERATIONS
        for p in op.get("parameters", [])
        if p.get("in") == "query"
    }
    | {"name", "tier", "confirm", "strategy", "payloadDays", "requestDays", "priority",
       "accessToken", "refreshToken", "provider", "expiresAt", "mode", "code", "sessionId"}
)  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["1h", "24h", "30d", "session", "true", "all", "x", "-1", "1e9", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(NAMES), json_values, max_size=5),
    json_values,
)
queries = st.dictionaries(
    st.sampled_from(NAMES) | st.text(max_size=8),
    st.text(max_size=20) | st.integers(-5, 5000).map(str),
    max_size=4,
)
segments = st.one_of(
    st.text(min_size=1, max_size=40),
    st.uuids().map(str),
    st.just("fuzz-account"),
)


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=lambda v: str(v)[:40])
# How many examples, and whether they change between runs: the profile (tests/conftest.py).
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(segment=segments, query=queries, body=bodies)
def test_no_input_gives_a_500(
    api_client: Client,
    method: str,
    path: str,
    operation: dict,
    segment: str,
    query: dict,
    body: object,
) -> None:
    # Examples share one test transaction: create the data once.
    if not Account.objects.filter(name="fuzz-account").exists():
        make_request(account=make_account(name="fuzz-account"), model="m", response_time_ms=10)
    url = re.sub(r"\{[^}]+\}", quote(segment, safe=""), path)
    if query:
        url += "?" + urlencode(query)
    response = api_client.generic(method, url, json.dumps(body), content_type="application/json")
    assert response.status_code < 500, (method, url, body, response.content[:300])
    if response.status_code >= 400:
        assert "error" in response.json()
