"""A NUL character anywhere in the input is a 400 on SQLite and PostgreSQL (which refuses it)."""

import json
import re

import pytest
from django.test import Client

from ccflare_site.api import api
from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db

STREAMS_AND_VACUUM = ("/api/requests/stream", "/api/logs/stream", "/api/maintenance/compact")
OPERATIONS = [
    (method.upper(), path)
    for path, methods in api.get_openapi_schema()["paths"].items()
    for method in methods
    if path not in STREAMS_AND_VACUUM
]
NUL_BODY = {"name": "a\x00b", "confirm": "a\x00b", "accessToken": "t\x00", "code": "\x00"}
NUL_QUERY = "?range=%00&accounts=%00&models=%00&status=%00&limit=%00"


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_nul_in_path_query_or_body_never_gives_a_500(
    api_client: Client, method: str, path: str
) -> None:
    make_request(account=make_account(name="a b"), model="m", response_time_ms=10)
    url = re.sub(r"\{[^}]+\}", "a%00b", path) + NUL_QUERY
    response = api_client.generic(
        method, url, json.dumps(NUL_BODY), content_type="application/json"
    )
    assert response.status_code < 500
    assert response.status_code < 400 or "error" in response.json()
