"""Dashboard pages (staff only: anyone else goes to the admin login) and the fragments they swap.

Views stay thin: `analytics.reporting.dashboard` assembles the data, templates render it, and
the page scripts under static/js/ keep it live over the websocket.
"""

import uuid

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from analytics.reporting import dashboard, queries


@staff_member_required
def overview(request: HttpRequest) -> HttpResponse:
    context = {
        "data": dashboard.overview_data(),
        "retention": dashboard.retention(),
        "cards": dashboard.account_cards(now=timezone.now()),
    }
    return _page(request, "overview", context)


@staff_member_required
def analytics(request: HttpRequest) -> HttpResponse:
    return _page(request, "analytics", {"data": dashboard.analytics_data()})


@staff_member_required
def requests(request: HttpRequest) -> HttpResponse:
    return _page(request, "requests", {"data": dashboard.requests_data()})


@staff_member_required
def request_detail(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    """One request; `?partial=1` gives the fragment the Requests page shows in its drawer."""
    detail = queries.request_detail(str(request_id))
    if detail is None:
        raise Http404("No such request")
    context = {"detail": dashboard.request_view(detail)}
    if request.GET.get("partial"):
        return render(request, "dashboard/_request_detail.html", context)
    return _page(request, "request_detail", context, nav="requests")


@staff_member_required
def accounts(request: HttpRequest) -> HttpResponse:
    return _page(request, "accounts", {"cards": dashboard.account_cards(now=timezone.now())})


@staff_member_required
def account_cards(request: HttpRequest) -> HttpResponse:
    """The account cards alone (Accounts page) or as the Overview's pool (`?view=pool`)."""
    template = "_pool.html" if request.GET.get("view") == "pool" else "_account_cards.html"
    cards = dashboard.account_cards(now=timezone.now())
    return render(request, f"dashboard/{template}", {"cards": cards})


@staff_member_required
def logs(request: HttpRequest) -> HttpResponse:
    return _page(request, "logs", {})


def _page(request: HttpRequest, name: str, context: dict, *, nav: str = "") -> HttpResponse:
    context = {"page": nav or name, **context}
    return render(request, f"dashboard/{name}.html", context)
