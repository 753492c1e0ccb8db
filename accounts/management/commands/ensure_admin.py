"""The `ensure_admin` command: create the first superuser so a fresh install can log in."""

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction


class Command(BaseCommand):
    help = (
        "Create a superuser if none exists (run by `make run`). Reads DJANGO_SUPERUSER_USERNAME "
        "(default 'admin'), DJANGO_SUPERUSER_PASSWORD (generated and printed once if unset) and "
        "DJANGO_SUPERUSER_EMAIL (default empty). Does nothing when a superuser already exists."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        created = not superuser_exists() and self.create_first()
        if not created and options["verbosity"] >= 2:
            self.stdout.write("A superuser already exists; nothing to do.")

    def create_first(self) -> bool:
        """Create the superuser the environment names and say so; False when another run
        (a second `make run`, a container beside a shell) created one first."""
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        env_password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        password = env_password or secrets.token_urlsafe(12)
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        check_login(username=username, email=email, password=env_password)
        if not create_superuser(username=username, email=email, password=password):
            return False
        if env_password:
            self.stdout.write(f"Admin login created: user {username} (password from environment)")
            return True
        # Shown once and boxed so it stands out in `make run` output: the plain
        # password is kept nowhere else.
        message = (
            f"Admin login created: user {username} / password {password} — change it in the admin"
        )
        self.stdout.write(boxed(message))
        return True


def superuser_exists() -> bool:
    return get_user_model().objects.filter(is_superuser=True).exists()


def check_login(*, username: str, email: str, password: str | None) -> None:
    """What the login form and the admin would refuse, refused before it is saved: an
    admin named " " was created, whom the login form (which strips names) never let in."""
    user_model = get_user_model()
    username_field = user_model._meta.get_field("username")
    user = user_model(username=username, email=email)
    problems = []
    try:
        username_field.clean(username, user)
        if username != username.strip():
            raise ValidationError("must not start or end with spaces")
    except ValidationError as error:
        problems.append(f"DJANGO_SUPERUSER_USERNAME {username!r}: {' '.join(error.messages)}")
    if email:
        try:
            validate_email(email)
        except ValidationError as error:
            problems.append(f"DJANGO_SUPERUSER_EMAIL: {' '.join(error.messages)}")
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as error:
            problems.append(f"DJANGO_SUPERUSER_PASSWORD: {' '.join(error.messages)}")
    if problems:
        raise CommandError("; ".join(problems))


def create_superuser(*, username: str, email: str, password: str) -> bool:
    """Create the superuser; False when another run created one since we looked.

    Raises CommandError when a regular user already holds the username, rather
    than silently promoting it.
    """
    try:
        # A savepoint: on PostgreSQL, the failed insert must not end the transaction
        # the check below runs in.
        with transaction.atomic():
            get_user_model().objects.create_superuser(
                username=username, email=email, password=password
            )
    except IntegrityError:
        # The username is taken: by the superuser a concurrent run just created, or else
        # by a regular user.
        if superuser_exists():
            return False
        raise CommandError(
            f"User '{username}' exists but is not a superuser; promote it in the admin"
        ) from None
    return True


def boxed(text: str) -> str:
    rule = "─" * (len(text) + 2)
    return f"┌{rule}┐\n│ {text} │\n└{rule}┘"
