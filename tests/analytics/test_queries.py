"""Read-side queries stay a fixed number of queries, whatever the number of rows."""

from typing import Any

import pytest

from analytics.reporting import queries
from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db


def test_recent_requests_costs_two_queries_for_any_number_of_rows(
    django_assert_num_queries: Any,
) -> None:
    accounts = [make_account(name=f"acct-{i}") for i in range(3)]
    for i in range(30):
        make_request(account=accounts[i % 3])

    with django_assert_num_queries(2):
        items = queries.recent_requests(limit=50)

    assert len(items) == 30
    assert {item["accountUsed"] for item in items} == {"acct-0", "acct-1", "acct-2"}
