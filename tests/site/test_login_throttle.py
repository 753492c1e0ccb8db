"""Wrong passwords on the admin login (the dashboard's login too) lock out username + address."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

LOGIN_URL = "/admin/login/?next=/dashboard/"
FAILURE_LIMIT = 5
COOLOFF = timedelta(minutes=15)


@pytest.fixture(autouse=True)
def throttle(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = FAILURE_LIMIT
    settings.AXES_COOLOFF_TIME = COOLOFF
    User.objects.create_user("owner", password="right-password", is_staff=True)


def log_in(client: Client, password: str) -> int:
    return client.post(LOGIN_URL, {"username": "owner", "password": password}).status_code


def fail(client: Client, *, times: int) -> list[int]:
    return [log_in(client, "wrong") for _ in range(times)]


def test_wrong_passwords_in_a_row_are_locked_out_after_the_limit() -> None:
    client = Client()

    statuses = fail(client, times=25)

    assert statuses == [200] * (FAILURE_LIMIT - 1) + [429] * (25 - FAILURE_LIMIT + 1)
    response = client.post(LOGIN_URL, {"username": "owner", "password": "right-password"})
    assert response.status_code == 429
    assert b"too many login attempts" in response.content


def test_the_lockout_ends_after_the_cooloff() -> None:
    client = Client()
    fail(client, times=FAILURE_LIMIT)

    with time_machine.travel(timezone.now() + COOLOFF + timedelta(seconds=1)):
        assert log_in(client, "right-password") == 302


def test_the_lockout_is_for_that_username_from_that_address_only() -> None:
    client = Client()
    fail(client, times=FAILURE_LIMIT)

    assert log_in(Client(REMOTE_ADDR="10.0.0.2"), "right-password") == 302


def test_a_successful_login_starts_the_count_again() -> None:
    client = Client()
    fail(client, times=FAILURE_LIMIT - 1)
    assert log_in(client, "right-password") == 302

    client.logout()
    statuses = fail(client, times=FAILURE_LIMIT - 1)

    assert statuses == [200] * (FAILURE_LIMIT - 1)
