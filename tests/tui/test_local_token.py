"""The TUI's own API token on the server's machine: made once, kept 0600, replaced when revoked."""

import stat
from pathlib import Path
from typing import Any

import pytest

from access import credentials
from access.models import ApiToken
from tui import local_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_the_token_is_made_once_and_reused(data_dir: Path) -> None:
    first = local_token.local_token()
    again = local_token.local_token()

    assert first == again and credentials.authenticate_token(first) is not None
    saved = data_dir / local_token.FILE_NAME
    assert saved.read_text().strip() == first
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert ApiToken.objects.filter(name=local_token.token_name()).count() == 1


def test_a_revoked_token_is_replaced(data_dir: Path) -> None:
    first = local_token.local_token()
    credentials.revoke_api_token(name=local_token.token_name())

    second = local_token.local_token()

    assert second != first and credentials.authenticate_token(second) is not None
    assert credentials.authenticate_token(first) is None


def test_a_lost_file_revokes_the_old_token_and_makes_a_new_one(data_dir: Path) -> None:
    first = local_token.local_token()
    (data_dir / local_token.FILE_NAME).unlink()

    second = local_token.local_token()

    assert credentials.authenticate_token(first) is None
    assert ApiToken.objects.filter(name=local_token.token_name(), revoked_at=None).count() == 1
    assert credentials.authenticate_token(second) is not None
