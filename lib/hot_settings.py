"""The settings the request path reads, each at the cost of an attribute.

`django.conf.settings.NAME` costs about 0.5 µs: Django's LazyObject looks on every value
it returns for a proxy method's marker, through an attribute lookup that fails. The proxy
reads a dozen settings per request. `hot.NAME` reads the setting from Django once and
again after any setting changes: Django sends `setting_changed` for `override_settings`,
and pytest-django's `settings` fixture goes through it. Nothing else changes settings
while a process runs (the runtime settings of the API are database rows).
"""

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed


class _Remembered:
    """`hot.NAME` is `settings.NAME`, kept until a setting changes."""

    def __getattr__(self, name: str) -> Any:
        # Only for a name not kept yet: the instance's own attributes come first.
        value = getattr(settings, name)
        self.__dict__[name] = value
        return value


hot = _Remembered()


def _forget(**_: object) -> None:
    hot.__dict__.clear()


setting_changed.connect(_forget, dispatch_uid="lib.hot_settings")
