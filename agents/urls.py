"""The Agents page, mounted at /dashboard/agents/ next to the other dashboard pages."""

from django.urls import path

from agents import views

app_name = "agents"

urlpatterns = [path("", views.page, name="page")]
