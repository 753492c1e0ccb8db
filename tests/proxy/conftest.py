"""The upstream client's tests (test_h1.py) run on both event loops: the standard library's,
and uvloop, which the server runs on (ccflare_site/daphne_main.py)."""

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]] | None:
    module = getattr(item, "module", None)
    if module is None or module.__name__ != "tests.proxy.test_h1":
        return None
    return {"asyncio": asyncio.SelectorEventLoop, "uvloop": uvloop.new_event_loop}
