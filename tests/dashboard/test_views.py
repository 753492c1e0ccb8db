"""The dashboard pages through the real URLconf: who gets in, what each page embeds."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from analytics.models import RequestPayload
from tests.factories import make_account, make_request

pytestmark = pytest.mark.django_db

PAGES = [
    "/dashboard/",
    "/dashboard/analytics/",
    "/dashboard/requests/",
    "/dashboard/accounts/",
    "/dashboard/logs/",
    "/dashboard/accounts/cards/",
    "/dashboard/accounts/cards/?view=pool",
]


def page_data(html: str) -> dict:
    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, "no embedded page data"
    return json.loads(found.group(1))


def test_root_redirects_to_the_dashboard(client: Client) -> None:
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/dashboard/")


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_go_to_the_admin_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/dashboard/")


@pytest.mark.parametrize("path", PAGES)
def test_users_without_staff_rights_go_to_the_admin_login(client: Client, path: str) -> None:
    client.force_login(User.objects.create_user("visitor", is_staff=False))
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("path", PAGES)
def test_staff_get_every_page(staff_client: Client, path: str) -> None:
    make_account(name="alpha")
    make_request(model="claude-sonnet-4-5", input_tokens=10, output_tokens=5)
    response = staff_client.get(path)
    assert response.status_code == 200
    assert b"alpha" in response.content or path in ("/dashboard/logs/",)


def test_requests_page_embeds_the_latest_rows_with_account_names(staff_client: Client) -> None:
    account = make_account(name="alpha")
    row = make_request(account=account, model="claude-haiku-4-5")

    data = page_data(staff_client.get("/dashboard/requests/").content.decode())

    assert [r["id"] for r in data["requests"]] == [str(row.id)]
    assert data["requests"][0]["accountUsed"] == "alpha"
    assert data["accounts"] == {str(account.pk): "alpha"}


def test_overview_embeds_the_report_and_the_activity(staff_client: Client) -> None:
    make_request(model="claude-haiku-4-5", error_message="Overloaded", success=False)

    data = page_data(staff_client.get("/dashboard/").content.decode())

    assert data["report"]["totals"]["requests"] == 1
    assert data["recentErrors"] == ["Overloaded"]
    assert len(data["activity"]) == 1


def test_pool_marks_the_session_holder_and_the_paused(staff_client: Client) -> None:
    from django.utils import timezone

    holder = make_account(
        name="holder", session_start=timezone.now(), session_request_count=3, holds_session=True
    )
    make_account(name="resting", paused=True)

    html = staff_client.get("/dashboard/accounts/cards/?view=pool").content.decode()

    assert f'data-account-id="{holder.pk}" data-state="ok"' in html
    assert "Session · 3 req" in html
    assert 'data-state="paused"' in html


@pytest.mark.parametrize(
    "path", ["/dashboard/accounts/cards/", "/dashboard/accounts/cards/?view=pool"]
)
def test_cards_and_pool_show_the_per_model_limits_in_force(staff_client: Client, path: str) -> None:
    until = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    expired = timezone.now() - timedelta(minutes=1)
    account = make_account(
        name="capped",
        model_limits={
            "opus": {"until": until.isoformat(), "claim": "seven_day_opus"},
            "sonnet": {"until": expired.isoformat(), "claim": "seven_day_sonnet"},
        },
    )

    html = staff_client.get(path).content.decode()

    assert f'data-account-id="{account.pk}"' in html
    assert 'data-state="ok"' in html  # other models keep the account
    assert 'data-family-limit="opus"' in html
    assert f'Opus limited · <time data-local="relative" datetime="{until.isoformat()}">' in html
    assert "seven_day_opus" in html
    assert 'data-family-limit="sonnet"' not in html  # its reset has passed


def test_request_detail_renders_the_conversation(staff_client: Client) -> None:
    row = make_request(model="claude-haiku-4-5")
    body = {"messages": [{"role": "user", "content": "What is <b>2+2</b>?"}]}
    reply = {"type": "message", "content": [{"type": "text", "text": "4"}]}
    RequestPayload.objects.create(request=row, data=payload(body, reply))

    html = staff_client.get(f"/dashboard/requests/{row.id}/?partial=1").content.decode()

    assert 'class="msg user"' in html and 'class="msg assistant"' in html
    assert "What is &lt;b&gt;2+2&lt;/b&gt;?" in html  # escaped, never rendered as HTML
    assert "<tr><td>anthropic-version</td><td>2023-06-01</td></tr>" in html
    assert "<tr><td>request-id</td><td>req_detail_1</td></tr>" in html
    assert "<html" not in html


def test_a_long_text_block_is_marked_for_the_browser_to_set_it_without_kerning(
    staff_client: Client,
) -> None:
    # Kerning a 256 KB run with no space took the browser 15-25 s (dashboard.css).
    row = make_request(model="claude-haiku-4-5")
    word, short = "A" * 262_000, "just a line"
    body = {"messages": [{"role": "user", "content": word}, {"role": "user", "content": short}]}
    reply = {"type": "message", "content": [{"type": "text", "text": "ok"}]}
    RequestPayload.objects.create(request=row, data=payload(body, reply))

    html = staff_client.get(f"/dashboard/requests/{row.id}/?partial=1").content.decode()

    assert f'<div class="block-text long">{word}</div>' in html
    assert f'<div class="block-text">{short}</div>' in html


def payload(body: dict, reply: dict) -> dict:
    import base64

    def b64(value: dict) -> str:
        return base64.b64encode(json.dumps(value).encode()).decode()

    return {
        "request": {"headers": {"anthropic-version": "2023-06-01"}, "body": b64(body)},
        "response": {"status": 200, "headers": {"request-id": "req_detail_1"}, "body": b64(reply)},
        "meta": {"truncated": False},
    }


def test_request_detail_page_and_unknown_ids(staff_client: Client) -> None:
    row = make_request()
    assert staff_client.get(f"/dashboard/requests/{row.id}/").status_code == 200
    missing = "/dashboard/requests/00000000-0000-4000-8000-000000000000/"
    assert staff_client.get(missing).status_code == 404


def test_admin_header_links_to_the_dashboard(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", password="pw"))
    html = client.get("/admin/").content.decode()
    assert 'href="/dashboard/"' in html
