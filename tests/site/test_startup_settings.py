"""A bad setting stops the server and every command with one line naming it, no traceback.

Run as a user runs them, in a process of their own: `python -m ccflare_site.serve` (what
`make run` starts) and `manage.py`.
"""

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests import servers

BAD_SETTINGS = [
    ({"PORT": "abc"}, "ccflare: PORT must be an integer, got 'abc'"),
    ({"PORT": "70000"}, "ccflare: PORT must be from 1 to 65535, got 70000"),
    ({"WORKERS": "0"}, "ccflare: WORKERS must be from 1 to 64, got 0"),
    ({"DEBUG": "maybe"}, "ccflare: DEBUG must be a boolean, got 'maybe'"),
    ({"SSE_HEARTBEAT_SECONDS": "0"}, "ccflare: SSE_HEARTBEAT_SECONDS must be more than 0 and"),
    ({"ALLOWED_HOSTS": ""}, "ccflare: ALLOWED_HOSTS must name at least one host"),
    ({"ENCRYPTION_KEY": "short"}, "ccflare: ENCRYPTION_KEY must be 32 url-safe base64-encoded"),
    # Each of these failed every request while /health said ok.
    ({"UPSTREAM_BASE_URL": "nonsense"}, "ccflare: UPSTREAM_BASE_URL must be an http:// or"),
    ({"SESSION_DURATION_MS": "1" + "0" * 22}, "ccflare: SESSION_DURATION_MS must be from 1 to"),
    # They were brought within range unsaid: 1000 days of payloads kept 365.
    ({"DATA_RETENTION_DAYS": "1000"}, "ccflare: DATA_RETENTION_DAYS must be from 1 to 365, got"),
    ({"REQUEST_RETENTION_DAYS": "0"}, "ccflare: REQUEST_RETENTION_DAYS must be from 1 to 3650"),
    (
        {"UPSTREAM_CONNECT_TIMEOUT_SECONDS": "-1"},
        "ccflare: UPSTREAM_CONNECT_TIMEOUT_SECONDS must be more than 0",
    ),
    ({"RETRY_BACKOFF": "inf"}, "ccflare: RETRY_BACKOFF must be a finite number"),
    # The password never shows: only the scheme is said.
    ({"DATABASE_URL": "nonsense://u:hunter2@h/x"}, "ccflare: DATABASE_URL must be sqlite:///"),
    # It started, and logged a traceback for every event it published.
    ({"REDIS_URL": "hunter2@127.0.0.1"}, "ccflare: REDIS_URL must be redis://HOST:PORT/DB"),
    # Each rotation looked for every old file under the log's lock: the server froze.
    ({"LOG_FILE_BACKUPS": "100000000"}, "ccflare: LOG_FILE_BACKUPS must be from 0 to 100, got"),
    ({"LOG_FILE_MAX_MB": "1" + "0" * 20}, "ccflare: LOG_FILE_MAX_MB must be from 1 to 1024"),
    # Out of file descriptors part-way through starting them, with a traceback.
    ({"WORKERS": "1000000"}, "ccflare: WORKERS must be from 1 to 64, got 1000000"),
    # An OverflowError's traceback.
    ({"LOGIN_COOLOFF_SECONDS": "9" * 20}, "ccflare: LOGIN_COOLOFF_SECONDS must be from 1 to"),
    # Accepted, as a cache never re-read or a request never recorded at low traffic.
    ({"ACCOUNT_CACHE_SECONDS": "-1"}, "ccflare: ACCOUNT_CACHE_SECONDS must be from 0 to 3600"),
    ({"ACCOUNT_CACHE_SECONDS": "1e300"}, "ccflare: ACCOUNT_CACHE_SECONDS must be from 0 to"),
    ({"PRICE_CACHE_SECONDS": "-5"}, "ccflare: PRICE_CACHE_SECONDS must be from 0 to 3600"),
    ({"RECORDER_FLUSH_MS": "9" * 14}, "ccflare: RECORDER_FLUSH_MS must be from 1 to 60000"),
    (
        {"SHUTDOWN_DRAIN_SECONDS": "1e300"},
        "ccflare: SHUTDOWN_DRAIN_SECONDS must be more than 0 and at most 3600, got 1e300",
    ),
    # Accepted, and never matched (or never reached).
    ({"NOTIFY_WEBHOOK_URL": "http://"}, "ccflare: NOTIFY_WEBHOOK_URL must be an http:// or"),
    (
        {"CORS_ALLOWED_ORIGINS": "example.com"},
        "ccflare: CORS_ALLOWED_ORIGINS must list origins as scheme://host[:port]",
    ),
    (
        {"CSRF_TRUSTED_ORIGINS": "https://ok.example,example.com"},
        "ccflare: CSRF_TRUSTED_ORIGINS must list origins as scheme://host[:port]",
    ),
    ({"ALLOWED_HOSTS": " , "}, "ccflare: ALLOWED_HOSTS must name at least one host"),
]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=servers.PROJECT_ROOT,
        env=servers.server_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("setting", "said"), BAD_SETTINGS, ids=lambda v: str(v)[:30])
@pytest.mark.parametrize("command", [["-m", "ccflare_site.serve"], ["manage.py", "check"]])
def test_a_bad_setting_is_one_line_naming_it(
    tmp_path: Path, command: list[str], setting: dict[str, str], said: str
) -> None:
    done = run(command, {"DATA_DIR": str(tmp_path), **setting})

    assert done.returncode == 1
    assert done.stderr.startswith(said) and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    assert "listening" not in done.stdout


def test_a_data_dir_that_is_a_file_is_named(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("")

    done = run(["manage.py", "check"], {"DATA_DIR": str(taken)})

    assert done.returncode == 1
    assert done.stderr == f"ccflare: DATA_DIR {taken} cannot be used as a folder: File exists\n"


NOT_SET_UP = "ccflare: the database is not set up yet: run `python manage.py migrate`\n"
DAPHNE = ["-m", "ccflare_site.daphne_main", "-b", "127.0.0.1", "-p", "0"]
SERVERS = [["-m", "ccflare_site.serve"], [*DAPHNE, "ccflare_site.asgi:application"]]


def test_a_command_before_migrate_says_to_migrate(tmp_path: Path) -> None:
    done = run(["manage.py", "list_accounts"], {"DATA_DIR": str(tmp_path)})

    assert done.returncode == 1
    assert done.stderr == NOT_SET_UP
    # Connecting had made an empty 4 KB ccflare.db, which was never a database.
    assert list(tmp_path.glob("ccflare.db*")) == []


@pytest.mark.parametrize("command", SERVERS, ids=["serve", "daphne"])
def test_a_server_before_migrate_says_to_migrate(tmp_path: Path, command: list[str]) -> None:
    # It started, answered every /v1/ request 503 and logged a `no such table` traceback each.
    done = run(command, {"DATA_DIR": str(tmp_path), "PORT": str(servers.free_port())})

    assert done.returncode == 1 and "listening" not in done.stdout
    assert done.stderr == NOT_SET_UP
    assert list(tmp_path.glob("ccflare.db*")) == []


@pytest.mark.parametrize("command", SERVERS, ids=["serve", "daphne"])
def test_a_server_upgraded_without_migrate_says_to_migrate(
    tmp_path: Path, command: list[str]
) -> None:
    env = {"DATA_DIR": str(tmp_path), "PORT": str(servers.free_port())}
    assert run(["manage.py", "migrate", "-v0"], env).returncode == 0
    with contextlib.closing(sqlite3.connect(tmp_path / "ccflare.db")) as database, database:
        # As after an upgrade that brought a new migration: the newest is not recorded.
        newest = "SELECT max(id) FROM django_migrations WHERE app = 'analytics'"
        database.execute(f"DELETE FROM django_migrations WHERE id = ({newest})")  # noqa: S608

    done = run(command, env)

    assert done.returncode == 1 and "listening" not in done.stdout
    assert done.stderr == (
        "ccflare: the database lacks 1 migration of this version: run `python manage.py migrate`\n"
    )


def test_a_corrupt_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "ccflare.db").write_bytes(b"not a database " * 1000)

    done = run(["manage.py", "migrate"], {"DATA_DIR": str(tmp_path)})

    assert done.returncode == 1
    assert done.stderr == "ccflare: the database cannot be used: file is not a database\n"


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    ("database", "said"),
    [
        ("missing/ccflare.db", "unable to open database file"),
        ("not-a-database", "file is not a database"),
    ],
)
def test_a_database_that_can_never_be_opened_stops_the_server_as_commands_say_it(
    tmp_path: Path, workers: str, database: str, said: str
) -> None:
    # The server started, and answered every request 503 for as long as it ran.
    (tmp_path / "not-a-database").write_bytes(b"not a database " * 1000)
    env = {"DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / database}"}

    served = run(["-m", "ccflare_site.serve"], {**env, "WORKERS": workers})
    command = run(["manage.py", "list_accounts"], env)

    assert served.returncode == 1 and "listening" not in served.stdout
    assert served.stderr == f"ccflare: the database cannot be used: {said}\n" == command.stderr


def test_a_database_locked_at_start_does_not_stop_the_server(tmp_path: Path) -> None:
    # Locked for longer than SQLite's busy timeout (5 s): a wait, not a refusal.
    database = tmp_path / "ccflare.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("CREATE TABLE held (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        env = {"DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{database}"}
        process, _ = servers.start_served(env=env, output=subprocess.DEVNULL)
    finally:
        holder.close()
    servers.stop(process)


def test_credentials_another_key_encrypted_stop_the_server_with_one_line(tmp_path: Path) -> None:
    # It started, and answered every request 503 "accounts could not be read yet".
    saved_with = {"DATA_DIR": str(tmp_path), "ENCRYPTION_KEY": Fernet.generate_key().decode()}
    assert run(["manage.py", "migrate", "-v0"], saved_with).returncode == 0
    added = run(
        ["manage.py", "add_account", "work", "--api-key", "sk-ant-api03-startup-key-0001"],
        saved_with,
    )
    assert added.returncode == 0, added.stderr

    done = run(
        ["-m", "ccflare_site.serve"],
        {**saved_with, "ENCRYPTION_KEY": Fernet.generate_key().decode()},
    )

    assert done.returncode == 1
    assert done.stderr.startswith("ccflare: the stored credentials of work cannot be decrypted")
    assert done.stderr.count("\n") == 1 and "listening" not in done.stdout


def test_an_account_added_with_another_key_is_refused_and_an_unreadable_one_removed(
    tmp_path: Path,
) -> None:
    # One command run with another key stored a credential the server could not read:
    # the server refused to start, and every repair command ended in a traceback.
    server_key = {"DATA_DIR": str(tmp_path), "ENCRYPTION_KEY": Fernet.generate_key().decode()}
    other_key = {**server_key, "ENCRYPTION_KEY": Fernet.generate_key().decode()}
    assert run(["manage.py", "migrate", "-v0"], server_key).returncode == 0
    add = ["manage.py", "add_account"]
    added = run([*add, "work", "--api-key", "sk-ant-api03-startup-key-0001"], server_key)
    assert added.returncode == 0

    refused = run([*add, "stray", "--api-key", "sk-ant-api03-startup-key-0002"], other_key)
    assert refused.returncode == 1
    assert "credentials stored for work cannot be decrypted" in refused.stderr
    # A command that reads the credential says so in one line.
    paused = run(["manage.py", "pause_account", "work"], other_key)
    assert paused.returncode == 1
    assert paused.stderr.startswith("ccflare: a stored credential cannot be decrypted")
    assert paused.stderr.count("\n") == 1
    # And the account can be removed without reading it.
    removed = run(["manage.py", "remove_account", "work", "--force"], other_key)
    assert removed.returncode == 0, removed.stderr
    assert "Traceback" not in refused.stderr + paused.stderr + removed.stderr


def test_a_postgresql_connection_the_network_lost_is_given_up_within_a_minute(
    tmp_path: Path,
) -> None:
    # Without keepalives and a bound on unacknowledged data, a connection lost without a
    # reset held the recorder, the account pool and the client keys for about 15 minutes.
    script = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    url = "postgres://u:p@127.0.0.1:5/x?keepalives_idle=7"
    done = run(["-c", script], {"DATA_DIR": str(tmp_path), "DATABASE_URL": url,
                                "DJANGO_SETTINGS_MODULE": "ccflare_site.settings"})  # fmt: skip

    assert done.returncode == 0, done.stderr
    options = json.loads(done.stdout)
    assert options["keepalives"] == 1 and options["keepalives_idle"] == 7  # the URL's wins
    assert options["keepalives_interval"] * options["keepalives_count"] <= 30
    assert options["tcp_user_timeout"] == 60_000 and options["connect_timeout"] == 5


def test_an_empty_data_dir_is_the_default_not_the_current_folder(tmp_path: Path) -> None:
    # Path("") is the current folder: it was made owner-only (0700) and filled with the
    # server's secret key, logs and static files.
    tmp_path.chmod(0o755)
    done = subprocess.run(
        [sys.executable, str(servers.PROJECT_ROOT / "manage.py"), "check"],
        cwd=tmp_path,
        env=servers.server_env({"DATA_DIR": "", "DATABASE_URL": f"sqlite:///{tmp_path}/db"}),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert tmp_path.stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_empty_setting_is_its_default(tmp_path: Path) -> None:
    # `HOST=` printed `export ANTHROPIC_BASE_URL=http://:8080` (and bound 127.0.0.1);
    # `CLIENT_ID=` sent an empty client id with every OAuth login and refresh.
    names = ["HOST", "CLIENT_ID", "UPSTREAM_BASE_URL", "LOG_LEVEL", "EVENT_LOOP"]
    script = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps([getattr(settings, name) for name in {names!r}]))"
    )
    env = {"DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "ccflare_site.settings"}

    unset = run(["-c", script], env)
    empty = run(["-c", script], {**env, **dict.fromkeys(names, "")})

    assert unset.returncode == empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout) == json.loads(unset.stdout)
    assert json.loads(unset.stdout)[0] == "127.0.0.1"


def test_a_data_dir_whose_static_folder_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "staticfiles").write_text("a file where the folder goes")
    done = run(["manage.py", "check"], {"DATA_DIR": str(tmp_path)})

    assert done.returncode == 1
    assert done.stderr.startswith(f"ccflare: DATA_DIR {tmp_path} cannot be used as a folder")
    assert "Traceback" not in done.stderr


def test_a_prompt_with_stdin_closed_is_refused_in_one_line(tmp_path: Path) -> None:
    # `0<&-`: sys.stdin is None, and reading it was an AttributeError's traceback.
    done = subprocess.run(
        [sys.executable, "manage.py", "add_account", "work", "--api-key", "-"],
        cwd=servers.PROJECT_ROOT,
        env=servers.server_env({"DATA_DIR": str(tmp_path)}),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(0),  # noqa: PLW1509 (no threads in this child yet)
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_ctrl_c_at_a_prompt_cancels_without_a_traceback(tmp_path: Path) -> None:
    env = servers.server_env({"DATA_DIR": str(tmp_path)})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=servers.PROJECT_ROOT,
                   env=env, check=True, timeout=120)  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "add_account", "work", "--api-key",
                    "sk-ant-api03-ctrl-c-test-key-0001"], cwd=servers.PROJECT_ROOT,
                   env=env, check=True, timeout=60, capture_output=True)  # fmt: skip
    asking = subprocess.Popen(
        [sys.executable, "manage.py", "remove_account", "work"],
        cwd=servers.PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert asking.stdout is not None
    asking.stdout.read(len("Type the account name"))  # at the prompt
    # Again until it ends: a signal that comes just before the prompt's read begins is
    # only seen once that read returns (a person at a terminal presses Ctrl-C again too).
    # Its stdin stays open meanwhile: an end of it would answer the prompt.
    for _ in range(20):
        asking.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            asking.wait(timeout=1)
            break
    _, stderr = asking.communicate(timeout=30)

    assert asking.returncode == 130
    assert stderr.strip() == "ccflare: cancelled"


def test_a_port_in_use_is_one_line_before_any_banner(tmp_path: Path) -> None:
    assert run(["manage.py", "migrate", "-v0"], {"DATA_DIR": str(tmp_path)}).returncode == 0
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run(
            ["-m", "ccflare_site.serve"],
            {"DATA_DIR": str(tmp_path), "HOST": "127.0.0.1", "PORT": str(port)},
        )

    assert done.returncode == 1
    assert done.stderr == f"ccflare: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert "listening" not in done.stdout
