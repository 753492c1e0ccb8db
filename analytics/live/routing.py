"""Websocket routes of the analytics app: the live dashboard feed."""

from django.urls import path

from analytics.live import consumers

websocket_urlpatterns = [
    path("ws/dashboard/", consumers.DashboardConsumer.as_asgi()),
]
