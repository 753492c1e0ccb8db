from django.apps import AppConfig


class TuiConfig(AppConfig):
    """A Django app only so that `manage.py tui` exists; it has no models."""

    name = "tui"
    verbose_name = "Terminal UI"
