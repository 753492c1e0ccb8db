"""EVENT_LOOP: daphne runs on uvloop by default (ccflare_site/daphne_main.py), or on asyncio."""

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvloop

from ccflare_site import daphne_main
from tests import servers
from tests.conftest import FakeUpstream, proxy_env


@pytest.fixture
def default_policy() -> Iterator[None]:
    yield
    asyncio.set_event_loop_policy(None)


@pytest.mark.usefixtures("default_policy")
def test_uvloop_is_installed_when_chosen(settings: object) -> None:
    settings.EVENT_LOOP = "uvloop"  # type: ignore[attr-defined]
    assert daphne_main.use_event_loop() == "uvloop"
    assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)


@pytest.mark.usefixtures("default_policy")
def test_asyncio_keeps_the_standard_loop(settings: object) -> None:
    settings.EVENT_LOOP = "asyncio"  # type: ignore[attr-defined]
    assert daphne_main.use_event_loop() == "asyncio"
    assert not isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_the_server_runs_on_the_chosen_loop(
    loop: str, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    env = {**proxy_env(data_dir=tmp_path, upstream=fake_upstream), "EVENT_LOOP": loop}
    with (tmp_path / "server.log").open("wb") as output:
        process, port = servers.start_proxy_server(env=env, output=output)
    try:
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/messages",
            json={"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []},
            headers={"x-api-key": "sk-ant-api03-event-loop"},
        )
        # uvloop's compiled loop is mapped into the process only when daphne runs on it.
        with open(f"/proc/{process.pid}/maps") as maps:
            mapped = "uvloop/loop." in maps.read()
    finally:
        servers.stop(process)
    assert reply.status_code == 200
    assert mapped is (loop == "uvloop")


def test_an_unknown_event_loop_is_refused_at_start(tmp_path: Path) -> None:
    check = "import django; django.setup()"
    env = servers.server_env({"EVENT_LOOP": "trio", "DATA_DIR": str(tmp_path)})
    result = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "EVENT_LOOP must be uvloop or asyncio, got 'trio'" in result.stderr


def test_the_server_entry_leaves_the_websocket_accelerator_unloaded(tmp_path: Path) -> None:
    # A clean interpreter, as the server starts: what daphne's import pulls in is the point.
    check = (
        "import sys; from ccflare_site import daphne_main; "
        "daphne_main.skip_websocket_accelerator(); import daphne.server; "
        "print(sorted({'pycparser', 'autobahn.nvx'} & set(sys.modules)))"
    )
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "CCFLARE_IGNORE_DOTENV": "1"}
    out = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True
    )

    assert out.stdout.strip() == "[]"
