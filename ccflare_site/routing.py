"""Websocket routes of every app, concatenated."""

from analytics.live import routing as analytics_routing

websocket_urlpatterns: list = [*analytics_routing.websocket_urlpatterns]
