"""Websocket routes of every app, concatenated."""

websocket_urlpatterns: list = []
