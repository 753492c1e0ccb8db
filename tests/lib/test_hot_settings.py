"""The request path's settings (lib/hot_settings.py): Django's values, changes included."""

import pytest
from django.conf import settings
from django.test import override_settings

from lib.hot_settings import hot


def test_a_setting_reads_as_django_has_it() -> None:
    assert hot.SESSION_DURATION_MS == settings.SESSION_DURATION_MS
    assert hot.UPSTREAM_BASE_URL == settings.UPSTREAM_BASE_URL


def test_a_setting_kept_from_before_an_override_follows_it_and_comes_back() -> None:
    before = hot.RETRY_ATTEMPTS  # kept from here on

    with override_settings(RETRY_ATTEMPTS=before + 7):
        during = hot.RETRY_ATTEMPTS
    after = hot.RETRY_ATTEMPTS

    assert (during, after) == (before + 7, before)


def test_the_settings_fixture_is_followed_too(settings) -> None:  # noqa: ANN001 (pytest-django)
    hot.MAX_BODY_MB  # noqa: B018 (kept before the change)
    settings.MAX_BODY_MB = 3
    now = hot.MAX_BODY_MB

    assert now == 3


def test_an_unknown_name_is_an_attribute_error_as_from_django() -> None:
    with pytest.raises(AttributeError):
        hot.NO_SUCH_SETTING  # noqa: B018
