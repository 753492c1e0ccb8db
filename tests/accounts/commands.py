"""What the account command tests share: running a command, reading its table, logging in."""

import io
import re
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.management import call_command
from django.db import connection

from accounts.models import Account

API_KEY = "sk-ant-api03-command-test-key-abcd"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def run(*args: str, stdin: str | None = None, **options: Any) -> str:
    """Run a command (with `stdin` as its standard input); returns what it wrote to stdout."""
    stdout, stderr = io.StringIO(), io.StringIO()
    original = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=stdout, stderr=stderr, **options)
    finally:
        sys.stdin = original
    return stdout.getvalue()


def stored_api_key_column(name: str) -> str:
    """The raw api_key column, bypassing the field's decryption."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT api_key FROM {Account._meta.db_table} WHERE name = %s", [name])
        return cursor.fetchone()[0]


def table_rows(output: str) -> list[list[str]]:
    """The data rows of list_accounts output, split into cells."""
    return [re.split(r" {2,}", line) for line in output.splitlines()[2:]]


class PastesTheCode(io.StringIO):
    """stdin that answers the login prompt with the state of the URL printed before it."""

    def __init__(self, stdout: io.StringIO, *, code: str = "code-1") -> None:
        super().__init__()
        self.stdout, self.code = stdout, code

    def readline(self, size: int = -1) -> str:
        match = re.search(r"https://\S+", self.stdout.getvalue())
        assert match is not None, "no login URL printed"
        return f"{self.code}#{parse_qs(urlsplit(match.group(0)).query)['state'][0]}\n"


def login(*args: str) -> str:
    """add_account with the pasted code answered from the printed URL."""
    stdout = io.StringIO()
    original, sys.stdin = sys.stdin, PastesTheCode(stdout)
    try:
        call_command("add_account", *args, stdout=stdout, stderr=io.StringIO())
    finally:
        sys.stdin = original
    return stdout.getvalue()
