"""Schema-driven fuzz of the HTTP API with schemathesis, against a real daphne.

Every operation of /api/openapi.json gets examples, the coverage phase's edge
values (longest strings, bounds, each enum member) and generated values, valid
and invalid (negative mode), sent over real sockets. Each answer must be one
the schema lists (no 500, no dropped connection) and invalid input must be
refused. A real server rather than the test client, because what it caught was
a connection closed without an answer, which only the HTTP server shows. The
SSE streams never end and compact needs no input (as in test_api_fuzz.py).
"""

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, status_code_conformance

from access import credentials
from ccflare_site.api import api
from tests.conftest import ProxyServer
from tests.factories import make_account, make_request

SKIPPED = ["/api/requests/stream", "/api/logs/stream", "/api/maintenance/compact"]
CHECKS = [not_a_server_error, status_code_conformance, negative_data_rejection]


@pytest.fixture
def auth_header(proxy: ProxyServer) -> dict[str, str]:
    """A committed API token (the server is another process) and some data to query."""
    make_request(account=make_account(name="fuzz-account"), model="m", response_time_ms=10)
    return {"Authorization": f"Bearer {credentials.create_api_token(name='schemathesis')[1]}"}


# The schema the server serves at /api/openapi.json, built in-process so that
# each operation is its own test (test_schema_is_the_one_served checks they match).
schema = schemathesis.openapi.from_dict(api.get_openapi_schema()).exclude(path=SKIPPED)
# The token is the test's own (auth_header): no generated, or mangled, Authorization.
schema.config.generation.update(with_security_parameters=False)


def test_schema_is_the_one_served(proxy: ProxyServer, auth_header: dict[str, str]) -> None:
    served = httpx.get(f"{proxy.url}/api/openapi.json", headers=auth_header).json()
    assert served == json.loads(json.dumps(api.get_openapi_schema()))


def test_longest_analytics_filters_fit_through_the_server(
    proxy: ProxyServer, auth_header: dict[str, str]
) -> None:
    # What schemathesis found: twice 10,000 characters passed the 16 KiB request
    # line daphne reads, which closed the connection without any answer.
    longest = "%" * 2000  # each sent as %25
    params = {"accounts": longest, "models": longest, "range": "30d", "mode": "cumulative"}
    response = httpx.get(f"{proxy.url}/api/analytics", params=params, headers=auth_header)
    assert response.status_code == 200


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented_and_invalid_input_refused(
    case: schemathesis.Case, proxy: ProxyServer, auth_header: dict[str, str]
) -> None:
    case.call_and_validate(base_url=proxy.url, headers=auth_header, checks=CHECKS, timeout=10)
