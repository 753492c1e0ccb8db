"""The analytics admin: requests are browsable and filterable but read-only; prices are editable."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.models import ModelPrice, Request
from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db

REQUESTS = "admin:analytics_request_changelist"


@pytest.fixture
def browser() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def listed(browser: Client, **filters: Any) -> list[str]:
    response = browser.get(reverse(REQUESTS), filters)
    assert response.status_code == 200
    return sorted(r.path for r in response.context["cl"].result_list)


def test_request_list_filters_by_account_model_status_and_date(browser: Client) -> None:
    work, home = make_account(name="work"), make_account(name="home")
    make_request(path="/a", account=work, model="claude-sonnet-4-5", status_code=200)
    make_request(path="/b", account=home, model="claude-opus-4-1", status_code=429)
    old = timezone.now() - datetime.timedelta(days=40)
    make_request(path="/c", account=work, model="claude-opus-4-1", status_code=200, timestamp=old)

    assert listed(browser) == ["/a", "/b", "/c"]
    assert listed(browser, account__id__exact=str(work.pk)) == ["/a", "/c"]
    assert listed(browser, model="claude-opus-4-1") == ["/b", "/c"]
    assert listed(browser, status_code="429") == ["/b"]
    since = (timezone.now() - datetime.timedelta(days=7)).isoformat()
    assert listed(browser, timestamp__gte=since) == ["/a", "/b"]


def test_request_detail_is_read_only(browser: Client) -> None:
    request = make_request(
        path="/v1/messages", routing_trace=[{"account": "w", "outcome": "served"}]
    )
    url = reverse("admin:analytics_request_change", args=[request.pk])

    page = browser.get(url)
    token = browser.cookies["csrftoken"].value
    attempt = browser.post(url, {"path": "/tampered", "csrfmiddlewaretoken": token})

    assert page.status_code == 200
    assert "&quot;outcome&quot;: &quot;served&quot;" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert attempt.status_code == 403
    assert Request.objects.get(pk=request.pk).path == "/v1/messages"
    assert browser.get(reverse("admin:analytics_request_add")).status_code == 403


def add_price(browser: Client, **prices: str) -> Any:
    """Post the admin's "add model price" form for claude-new-model with these USD prices."""
    url = reverse("admin:analytics_modelprice_add")
    browser.get(url)
    data = {
        "model": "claude-new-model",
        "effective_from": "2020-01-01",
        "prompt_tokens_over": "0",
        **{f"{name}_usd": value for name, value in prices.items()},
        "note": "",
        "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
    }
    return browser.post(url, data)


def test_a_price_can_be_added_and_prices_the_unpriced_requests(browser: Client) -> None:
    request = make_request(model="claude-new-model", input_tokens=1_000_000, unpriced=True)

    response = add_price(
        browser, input="2", cache_write_5m="2.5", cache_write_1h="4", cache_read="0.2", output="10"
    )

    assert response.status_code == 302
    assert ModelPrice.objects.get(model="claude-new-model").output_usd == Decimal("10")
    request.refresh_from_db()
    assert (request.unpriced, request.cost_usd) == (False, Decimal("2"))


def test_a_negative_price_is_refused(browser: Client) -> None:
    response = add_price(
        browser, input="-1", cache_write_5m="0", cache_write_1h="0", cache_read="0", output="15"
    )

    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    assert not ModelPrice.objects.filter(model="claude-new-model").exists()


def test_price_list_is_searchable(browser: Client) -> None:
    ModelPrice.objects.create(
        model="claude-x",
        input_usd=1,
        cache_write_5m_usd=1,
        cache_write_1h_usd=1,
        cache_read_usd=1,
        output_usd=1,
    )

    response = browser.get(reverse("admin:analytics_modelprice_changelist"), {"q": "claude-x"})

    assert [p.model for p in response.context["cl"].result_list] == ["claude-x"]
