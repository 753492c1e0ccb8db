"""What the commands say back about a name they were given: its control characters as escapes.

A name typed (or pasted from elsewhere) with an escape code in it was echoed raw into the
terminal by every "not found" error: recoloured, retitled or rewritten by the name.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests import servers

pytestmark = pytest.mark.django_db

RED = "\x1b[31mred"

ECHOING = [
    (("remove_account", RED, "--force"), "Account '\\x1b[31mred' not found"),
    (("pause_account", RED), "Account '\\x1b[31mred' not found"),
    (("resume_account", RED), "Account '\\x1b[31mred' not found"),
    (("rename_account", RED, "new"), "Account '\\x1b[31mred' not found"),
    (("set_tier", RED, "5"), "Account '\\x1b[31mred' not found"),
    (("set_priority", RED, "1"), "Account '\\x1b[31mred' not found"),
    (("check_usage", RED), "Account '\\x1b[31mred' not found"),
    (("refresh_tokens", RED), "Account '\\x1b[31mred' not found"),
    (("revoke_api_token", RED), "No active API token named '\\x1b[31mred'"),
    (("revoke_client_key", RED), "No active client key named '\\x1b[31mred'"),
    (("rotate_client_key", RED), "No active client key named '\\x1b[31mred'"),
    (("client_keys", "models", RED), "No active client key named '\\x1b[31mred'"),
    (("agents", "get-model", RED), "No agent '\\x1b[31mred'"),
    # A forged second line and text shown reversed.
    (("pause_account", "a\nCommandError: b"), "Account 'a\\nCommandError: b' not found"),
    (("pause_account", "a\u202eb"), "Account 'a\\u202eb' not found"),
    # A name with nothing to escape is said as it always was.
    (("pause_account", "café work"), "Account 'café work' not found"),
]


@pytest.mark.parametrize(("args", "said"), ECHOING, ids=lambda v: str(v)[:40])
def test_a_command_says_a_names_control_characters_as_escapes(
    args: tuple[str, ...], said: str
) -> None:
    with pytest.raises(CommandError) as refused:
        call_command(*args)

    assert str(refused.value) == said


def test_the_terminal_gets_no_escape_code_from_a_typed_name(tmp_path: Path) -> None:
    env = servers.server_env({"DATA_DIR": str(tmp_path)})
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=servers.PROJECT_ROOT, env=env,
                   check=True, timeout=120)  # fmt: skip

    done = subprocess.run([*manage, "remove_account", RED], cwd=servers.PROJECT_ROOT, env=env,
                          capture_output=True, timeout=60)  # fmt: skip

    assert done.returncode == 1
    assert done.stderr == b"CommandError: Account '\\x1b[31mred' not found\n"
