"""The `revoke_client_key` command: stop a client key from reaching the proxy."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from access import credentials
from access.models import ClientKey
from lib import escapes


class Command(BaseCommand):
    help = "Revoke the active client key with this name (takes effect within seconds)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key = credentials.revoke_client_key(name=options["name"])
        except credentials.AccessError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stdout.write(f"Client key '{options['name']}' revoked")
        if key.budgets.exists() or key.allowed_models or key.denied_models:
            self.stdout.write(
                "Its budgets and model rules stay with the revoked key: a new key of this name "
                "starts without them (rotate_client_key replaces a secret and keeps them)."
            )
        if not ClientKey.objects.filter(revoked_at=None).exists():
            self.stdout.write(
                "No live client key is left: /v1/ now refuses every request until you create "
                "one (delete the revoked keys in the admin to open it to anyone again)."
            )
