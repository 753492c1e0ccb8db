"""Settings that change at run time: retention days, the default agent model, kept in the database.

Precedence (docs/compatibility.md, configuration): a value set in the environment, then
one changed through the API or admin (a RuntimeSetting row), then the default from
settings.py.
Defaults are never written back.
"""

from dataclasses import dataclass

from django.conf import settings

from analytics.models import RuntimeSetting


@dataclass(frozen=True, slots=True)
class Bounds:
    setting: str  # the settings.py / environment name
    minimum: int
    maximum: int


# ccflare's ranges (docs/compatibility.md). A value outside is refused: from the environment
# at start (settings.py), through the API with a 400 (analytics.schemas.RetentionIn).
RETENTION = {
    "data_retention_days": Bounds("DATA_RETENTION_DAYS", 1, 365),
    "request_retention_days": Bounds("REQUEST_RETENTION_DAYS", 1, 3650),
}


class SetInEnvironment(Exception):
    """The setting comes from the environment, which wins over a run-time change."""


def retention_days(key: str) -> int:
    """The retention in force for `key` (data_retention_days or request_retention_days)."""
    bounds = RETENTION[key]
    value = getattr(settings, bounds.setting)
    if bounds.setting not in settings.RUNTIME_SETTINGS_FROM_ENV:
        stored = RuntimeSetting.objects.filter(key=key).values_list("value", flat=True).first()
        value = stored if isinstance(stored, int) else value
    # Only a stored value can be outside (a row written by hand): 0 days would delete
    # every payload at the next cleanup.
    return min(max(value, bounds.minimum), bounds.maximum)


def set_retention_days(values: dict[str, int]) -> None:
    """Store run-time retention values; raises SetInEnvironment for env-set ones."""
    locked = [
        RETENTION[key].setting
        for key in values
        if RETENTION[key].setting in settings.RUNTIME_SETTINGS_FROM_ENV
    ]
    if locked:
        raise SetInEnvironment(", ".join(locked))
    for key, value in values.items():
        RuntimeSetting.objects.update_or_create(key=key, defaults={"value": value})


def default_agent_model() -> str:
    """The model of agents that name none (the agents app validates what is stored)."""
    value: str = settings.DEFAULT_AGENT_MODEL
    if "DEFAULT_AGENT_MODEL" not in settings.RUNTIME_SETTINGS_FROM_ENV:
        stored = RuntimeSetting.objects.filter(key="default_agent_model").values_list(
            "value", flat=True
        )
        value = next((v for v in stored if isinstance(v, str) and v), value)
    return value


def set_default_agent_model(model: str) -> None:
    """Store the run-time default agent model; raises SetInEnvironment when env-set."""
    if "DEFAULT_AGENT_MODEL" in settings.RUNTIME_SETTINGS_FROM_ENV:
        raise SetInEnvironment("DEFAULT_AGENT_MODEL")
    RuntimeSetting.objects.update_or_create(key="default_agent_model", defaults={"value": model})
