"""Websocket routes of the analytics app: the live dashboard feed."""

from django.urls import path

from analytics.live import consumers

websocket_urlpatterns = [
    # Channels routes ASGI apps with Django's path(); the stubs expect a view there.
    path("ws/dashboard/", consumers.DashboardConsumer.as_asgi()),  # type: ignore[arg-type]
]
