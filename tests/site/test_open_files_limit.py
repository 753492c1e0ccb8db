"""The server raises its open-files limit to the hard limit: each stream holds two sockets."""

import resource
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import servers
from tests.conftest import ProxyServer

LOW = 512


@contextmanager
def soft_limit(value: int) -> Iterator[None]:
    """This process's soft limit lowered, so that the server started meanwhile inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (value, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_files_limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no open-files line in /proc/{pid}/limits")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_server_started_with_a_low_soft_limit_raises_it_to_the_hard_limit(
    proxy: ProxyServer,
) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard <= LOW:
        pytest.skip(f"the hard limit here ({hard}) leaves nothing to raise")
    with soft_limit(LOW):
        process, _port = servers.start_proxy_server(env=proxy.env)
    try:
        assert open_files_limits(process.pid) == (hard, hard)
    finally:
        servers.stop(process)
