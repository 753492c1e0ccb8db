"""Client keys on the dashboard, in a real Chromium: the Overview's per-key table, the
Requests page's key filter, and charts that show a new user's first hour."""

import httpx
import pytest

from access import credentials
from analytics.models import Request
from tests.conftest import ProxyServer, wait_for
from tests.dashboard.conftest import screenshot, wait_live, wait_until
from tests.factories import make_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

MESSAGE = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}
# The radius of the first point each line chart draws, and how many points it has.
FIRST_POINT = """(id) => {
  const chart = Chart.getChart(document.getElementById(id));
  const points = chart.getDatasetMeta(0).data;
  return [points.length, points[0].options.radius];
}"""


def send(proxy: ProxyServer, secret: str) -> None:
    headers = {"anthropic-version": "2023-06-01", "x-api-key": secret}
    response = httpx.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers=headers, timeout=20)
    assert response.status_code == 200


@pytest.fixture
def first_hour(proxy: ProxyServer) -> None:
    """A new install's first minutes: alice sent two requests, bob one; the fake upstream
    reports the pool's 5-hour window 12% used."""
    make_account(name="pool", api_key="sk-ant-api03-keys-browser-0001")
    _, alice = credentials.create_client_key(name="alice")
    _, bob = credentials.create_client_key(name="bob")
    for secret in (alice, bob, alice):
        send(proxy, secret)
    wait_for(lambda: Request.objects.filter(cost_usd__gt=0).count() == 3)


@pytest.mark.usefixtures("first_hour")
def test_overview_shows_usage_per_key_and_the_first_hours_points(
    page: object, proxy: ProxyServer
) -> None:
    page.goto(f"{proxy.url}/dashboard/")
    wait_live(page)
    page.wait_for_selector('[data-key-table] tr[data-key="alice"]')

    rows = page.eval_on_selector_all(
        "[data-key-table] tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    # Hand-computed: equal requests cost the same; alice has 2 of 3, of a 12% window.
    assert [(r[0], r[1], r[2], r[6]) for r in rows] == [
        ("alice", "2", "100.0%", "8.0%"),
        ("bob", "1", "100.0%", "4.0%"),
    ]
    assert all(r[3] != "0" and r[4].startswith("$") and r[5] != "–" for r in rows)
    # All three requests fall in one bucket of the 24h range: each line shows its point.
    assert page.evaluate(FIRST_POINT, "chart-volume") == [1, 4]
    assert page.evaluate(FIRST_POINT, "chart-success") == [1, 4]
    screenshot(page, "overview-keys", full_page=True)

    page.click('[data-range="1h"]')
    wait_until(
        page, "Chart.getChart(document.getElementById('chart-volume')).data.labels.length >= 1"
    )
    assert page.errors == []


@pytest.mark.usefixtures("first_hour")
def test_analytics_charts_show_the_first_hour(page: object, proxy: ProxyServer) -> None:
    page.goto(f"{proxy.url}/dashboard/analytics/")
    wait_live(page)
    page.wait_for_selector("[data-model-table] tr td.mono")
    assert page.evaluate(FIRST_POINT, "chart-traffic") == [1, 4]
    assert page.errors == []


@pytest.mark.usefixtures("first_hour")
def test_the_requests_page_filters_by_client_key(page: object, proxy: ProxyServer) -> None:
    page.goto(f"{proxy.url}/dashboard/requests/")
    wait_live(page)
    page.wait_for_selector("[data-rows] tr")
    assert page.eval_on_selector_all('[name="key"] option', "o => o.map(x => x.value)") == [
        "", "alice", "bob", "no_key",
    ]  # fmt: skip

    page.select_option('[name="key"]', "alice")
    wait_until(page, "document.querySelectorAll('[data-rows] tr').length === 2")
    keys = page.eval_on_selector_all(
        "[data-rows] tr", "rows => rows.map(r => r.cells[5].textContent)"
    )
    assert keys == ["alice", "alice"]
    page.select_option('[name="key"]', "no_key")
    page.wait_for_selector("[data-empty]:not([hidden])")
    assert page.errors == []


def test_without_client_keys_the_overview_has_no_key_table(
    page: object, proxy: ProxyServer
) -> None:
    make_account(name="pool", api_key="sk-ant-api03-keys-browser-0002")
    send(proxy, "client-own-key")
    wait_for(lambda: Request.objects.count() == 1)
    page.goto(f"{proxy.url}/dashboard/")
    page.wait_for_selector('[data-kpi="requests"] .value:text("1")')
    assert page.is_hidden("[data-keys-card]")
    assert page.errors == []
