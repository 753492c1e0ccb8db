from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connected on import: signal receivers (live feed, metrics) and the notifier.
        from analytics import signals  # noqa: F401
        from analytics.live import notify  # noqa: F401
