"""The API token the TUI uses on the server's own machine when none is given.

The one place the TUI touches the database (through access.credentials, as
`create_api_token` does): a token named `tui@<hostname>` is created once, its secret
kept in DATA_DIR/tui-token with mode 0600 and reused while it still works. Revoke it
with `manage.py revoke_api_token tui@<hostname>` or in the admin; the next local run
then makes a new one.
"""

import os
import socket
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError

from access import credentials

FILE_NAME = "tui-token"


class LocalTokenError(Exception):
    """No local token could be made (no database here, say); the message is user-facing."""


def token_name() -> str:
    return f"tui@{socket.gethostname()}"[:100]


def token_file() -> Path:
    return Path(settings.DATA_DIR) / FILE_NAME


def local_token() -> str:
    """The saved token if it still works, else a new one (replacing a lost or revoked one)."""
    path = token_file()
    try:
        saved = path.read_text().strip() if path.exists() else ""
        if saved and credentials.authenticate_token(saved) is not None:
            return saved
        # The file is gone or its token revoked: an active token of this name cannot be
        # used any more (only its hash is kept), so it is replaced.
        try:
            credentials.revoke_api_token(name=token_name())
        except credentials.AccessError:
            pass
        _, secret = credentials.create_api_token(name=token_name())
    except DatabaseError as error:
        raise LocalTokenError(
            f"No local API token: the database cannot be used ({error})"
        ) from None
    _write_private(path, secret)
    return secret


def _write_private(path: Path, secret: str) -> None:
    # Created with 0600 from the start, so the secret is never readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    path.chmod(0o600)
