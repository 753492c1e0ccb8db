"""URL routes of the dashboard pages, mounted at /dashboard/."""

from django.urls import path

from analytics import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("analytics/", views.analytics, name="analytics"),
    path("requests/", views.requests, name="requests"),
    path("requests/<uuid:request_id>/", views.request_detail, name="request_detail"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/cards/", views.account_cards, name="account_cards"),
    path("logs/", views.logs, name="logs"),
]
