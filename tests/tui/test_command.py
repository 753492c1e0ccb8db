"""`manage.py tui` for real, in a pseudo-terminal: it names the accounts and quits with q."""

import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pexpect
import pytest

from access.models import ApiToken
from tests import servers
from tests.tui.conftest import Served
from tui import local_token

pytestmark = pytest.mark.django_db(transaction=True)

# Django, Textual and the first answers from the server: generous on a loaded machine.
PATIENCE_SECONDS = 60


def spawn(args: list[str], env: dict[str, str]) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["manage.py", "tui", *args],
        cwd=str(servers.PROJECT_ROOT),
        env=servers.server_env({**env, "TERM": "xterm-256color"}),
        dimensions=(24, 80),
        timeout=PATIENCE_SECONDS,
    )


def quits_with_q(child: pexpect.spawn, key: str = "q") -> None:
    child.send(key)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert b"Traceback" not in (child.before or b"")


def test_the_command_names_the_accounts_and_quits_with_q(served: Served) -> None:
    child = spawn(["--url", served.proxy.url, "--token", served.token], served.proxy.env)

    child.expect("alpha")
    child.expect("beta")

    quits_with_q(child)


def test_ctrl_c_quits_as_in_any_terminal_program(served: Served) -> None:
    child = spawn(["--url", served.proxy.url, "--token", served.token], served.proxy.env)
    child.expect("alpha")

    quits_with_q(child, key="\x03")


def test_on_the_server_machine_it_makes_its_own_token(served: Served, tmp_path: Path) -> None:
    """No --url and no token: the local server (PORT), with a token kept in DATA_DIR."""
    port = str(urlsplit(served.proxy.url).port)
    env = {**served.proxy.env, "DATA_DIR": str(tmp_path), "HOST": "0.0.0.0", "PORT": port}
    child = spawn([], env)

    child.expect("alpha")
    quits_with_q(child)

    saved = tmp_path / local_token.FILE_NAME
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert saved.read_text().startswith("cct_")
    assert ApiToken.objects.filter(name__startswith="tui@", revoked_at=None).count() == 1


def test_a_refused_token_is_said_on_screen_not_as_a_traceback(served: Served) -> None:
    child = spawn(["--url", served.proxy.url, "--token", "cct_wrong"], served.proxy.env)

    child.expect("refused")

    quits_with_q(child)


def test_without_a_terminal_it_refuses_at_once(served: Served) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "tui", "--url", served.proxy.url, "--token", served.token],
        cwd=servers.PROJECT_ROOT,
        env=servers.server_env(served.proxy.env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=PATIENCE_SECONDS,
    )

    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == "CommandError: The TUI needs a terminal: run it in one, not through a pipe"
    )


@pytest.mark.parametrize(
    "url", ["nonsense", "ftp://example.com", "http://", "http://[::1", "http://h:abc"]
)
def test_a_url_that_is_no_server_is_refused_at_once(served: Served, url: str) -> None:
    child = spawn(["--url", url, "--token", served.token], served.proxy.env)

    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert b"--url must be an http:// or https:// URL" in (child.before or b"")
