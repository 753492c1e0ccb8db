"""The dashboard's Agents page; its script reads and changes everything through /api/agents."""

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@staff_member_required
def page(request: HttpRequest) -> HttpResponse:
    context = {"page": "agents", "agents_dir": settings.AGENTS_DIR}
    return render(request, "dashboard/agents.html", context)
