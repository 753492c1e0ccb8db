"""ensure_admin: the first admin login that `make run` makes sure exists."""

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError

from tests import servers
from tests.accounts.commands import (
    run,
)

pytestmark = pytest.mark.django_db

SUPERUSER_ENV = ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL")


@pytest.fixture
def superuser_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SUPERUSER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_ensure_admin_creates_a_superuser_with_a_generated_password(
    superuser_env: pytest.MonkeyPatch,
) -> None:
    superuser_env.setattr("secrets.token_urlsafe", lambda nbytes: "generated-pass")

    output = run("ensure_admin")

    message = "Admin login created: user admin / password generated-pass — change it in the admin"
    assert output.splitlines()[1] == f"│ {message} │"
    user = get_user_model().objects.get(is_superuser=True)
    assert (user.username, user.email) == ("admin", "")
    assert user.check_password("generated-pass")


def test_ensure_admin_generates_a_fresh_password(superuser_env: pytest.MonkeyPatch) -> None:
    output = run("ensure_admin")

    password = re.search(r"password (\S+) —", output).group(1)
    assert len(password) >= 16
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_ensure_admin_uses_the_environment(superuser_env: pytest.MonkeyPatch) -> None:
    superuser_env.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    superuser_env.setenv("DJANGO_SUPERUSER_PASSWORD", "env-password-123")
    superuser_env.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")

    output = run("ensure_admin")

    assert output == "Admin login created: user root (password from environment)\n"
    user = get_user_model().objects.get(is_superuser=True)
    assert (user.username, user.email) == ("root", "root@example.com")
    assert user.check_password("env-password-123")


def test_ensure_admin_is_idempotent(superuser_env: pytest.MonkeyPatch) -> None:
    run("ensure_admin")

    second_output = run("ensure_admin")

    assert second_output == ""
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


def test_ensure_admin_leaves_an_existing_superuser_alone(
    superuser_env: pytest.MonkeyPatch,
) -> None:
    get_user_model().objects.create_superuser(username="owner", password="owner-password")

    output = run("ensure_admin")

    assert output == ""
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["owner"]


def test_ensure_admin_refuses_to_reuse_a_regular_username(
    superuser_env: pytest.MonkeyPatch,
) -> None:
    get_user_model().objects.create_user(username="admin", password="plain-user-password")

    with pytest.raises(CommandError, match="User 'admin' exists but is not a superuser"):
        run("ensure_admin")

    assert not get_user_model().objects.filter(is_superuser=True).exists()


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"DJANGO_SUPERUSER_USERNAME": " "}, "DJANGO_SUPERUSER_USERNAME ' ': "),
        ({"DJANGO_SUPERUSER_USERNAME": "x" * 151}, "at most 150 characters"),
        ({"DJANGO_SUPERUSER_USERNAME": "bad name!"}, "Enter a valid username"),
        ({"DJANGO_SUPERUSER_PASSWORD": "x"}, "DJANGO_SUPERUSER_PASSWORD: This password is too"),
        ({"DJANGO_SUPERUSER_EMAIL": "notanemail"}, "DJANGO_SUPERUSER_EMAIL: Enter a valid"),
    ],
)
def test_ensure_admin_refuses_a_login_nobody_could_use(
    superuser_env: pytest.MonkeyPatch, env: dict[str, str], said: str
) -> None:
    # An admin named " " was created that the login form never let in, and every later
    # run then left it as the only one.
    for name, value in env.items():
        superuser_env.setenv(name, value)

    with pytest.raises(CommandError, match=re.escape(said)):
        run("ensure_admin")

    assert not get_user_model().objects.exists()


def test_ensure_admin_run_several_times_at_once_makes_one_admin(tmp_path: Path) -> None:
    # Two `make run` at once (a container and a shell): each run but one failed on the
    # UNIQUE constraint of the username.
    env = servers.server_env({"DATA_DIR": str(tmp_path)})
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=servers.PROJECT_ROOT, env=env,
                   check=True, timeout=120)  # fmt: skip
    runs = [
        subprocess.Popen(
            [*manage, "ensure_admin", "-v2"],
            cwd=servers.PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = sorted(process.communicate(timeout=120) for process in runs)

    assert [process.returncode for process in runs] == [0] * 6
    assert outputs[:5] == [("A superuser already exists; nothing to do.\n", "")] * 5
    assert "Admin login created: user admin / password" in outputs[5][0]
    with sqlite3.connect(tmp_path / "ccflare.db") as database:
        users = database.execute("SELECT username, is_superuser FROM auth_user").fetchall()
    assert users == [("admin", 1)]
