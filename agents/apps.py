from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AgentsConfig(AppConfig):
    name = "agents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A change saved in this process (API, admin, CLI in the server's process)
        # applies to the next proxied request, not after AGENTS_CACHE_SECONDS.
        from agents.models import AgentDefinition, AgentPreference, Workspace
        from analytics.models import ModelPrice, RuntimeSetting

        for model in (AgentDefinition, AgentPreference, Workspace, ModelPrice, RuntimeSetting):
            post_save.connect(_invalidate, sender=model, dispatch_uid=f"agents-{model.__name__}")
            post_delete.connect(
                _invalidate, sender=model, dispatch_uid=f"agents-d-{model.__name__}"
            )


def _invalidate(**kwargs: object) -> None:
    from agents.registry import registry

    registry.invalidate()
