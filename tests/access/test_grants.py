"""The re-check of a live connection's login: what ends it, what it costs."""

from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from access import credentials, grants

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def staff_session(**fields: object) -> tuple[User, grants.Grant]:
    user = User.objects.create_user("ops", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    User.objects.filter(pk=user.pk).update(**fields)
    return user, grants.Grant(session_key=client.cookies["sessionid"].value)


async def test_a_staff_session_holds() -> None:
    _, grant = await staff_session()
    assert await grants.holds(grant)


@pytest.mark.parametrize(
    "end",
    [
        lambda user, key: Session.objects.filter(session_key=key).delete(),
        lambda user, key: Session.objects.filter(session_key=key).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        ),
        lambda user, key: User.objects.filter(pk=user.pk).update(is_active=False),
        lambda user, key: User.objects.filter(pk=user.pk).update(is_staff=False),
        lambda user, key: user.set_password("new") or user.save(),
    ],
    ids=["logged-out", "expired", "deactivated", "no-longer-staff", "password-changed"],
)
async def test_a_session_ends_with_its_login(end: Callable[[User, str], object]) -> None:
    user, grant = await staff_session()
    await sync_to_async(end)(user, grant.session_key)
    assert not await grants.holds(grant)


async def test_a_token_holds_until_revoked() -> None:
    token, _ = await sync_to_async(credentials.create_api_token)(name="watcher")
    grant = grants.Grant(token_id=token.pk)
    held = await grants.holds(grant)
    await sync_to_async(credentials.revoke_api_token)(name="watcher")
    assert (held, await grants.holds(grant)) == (True, False)


async def test_a_database_away_ends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing can revoke or log out while it is away; the streams outlive a restart.
    def refused(*args: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(credentials, "live_api_tokens", refused)
    assert await grants.holds(grants.Grant(token_id=1))


async def test_a_busy_stream_checks_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = []

    async def holds(grant: grants.Grant) -> bool:
        checks.append(grant)
        return True

    monkeypatch.setattr(grants, "holds", holds)
    monkeypatch.setattr(grants, "recheck_seconds", lambda: 60.0)
    watch = grants.Watch(grants.Grant(token_id=1))
    answers = [await watch.holds() for _ in range(100)]
    assert (answers, len(checks)) == ([True] * 100, 1)


def test_a_request_let_in_by_token_or_session_has_its_grant() -> None:
    token = credentials.create_api_token(name="watcher")[0]
    by_token = SimpleNamespace(auth=token, session=SimpleNamespace(session_key=None))
    by_session = SimpleNamespace(auth=object(), session=SimpleNamespace(session_key="k"))
    assert grants.of_request(by_token) == grants.Grant(token_id=token.pk)
    assert grants.of_request(by_session) == grants.Grant(session_key="k")
