"""The `rotate_client_key` command: a new secret for a client key, its budgets and rules kept."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from access import credentials
from lib import escapes


class Command(BaseCommand):
    help = (
        "Give the active client key with this name a new secret, printed once; the old secret "
        "stops working within seconds. Its budgets, model rules and usage stay with it."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            _, secret = credentials.rotate_client_key(name=options["name"])
        except credentials.AccessError as error:
            raise CommandError(escapes.printable(str(error))) from None
        self.stderr.write("Copy it now: only its hash is kept. The old secret no longer works.")
        self.stdout.write(secret)
