"""Strings a client, an upstream or an agent file chose, in a real browser: shown as text,
never run, and never wider than the box they are shown in."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ProxyServer
from tests.factories import make_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

# Markup that would run if it were ever parsed as HTML, then one unbroken word.
MODEL = "claude-<img src=x onerror=window.__ran=1>" + "m" * 400
ERROR = "<script>window.__ran=2</script>" + "e" * 3000
DESCRIPTION = "<img src=x onerror=window.__ran=3>" + "d" * 2000
# A page fits the window, and each scrolling table fits its card.
OVERFLOW = """() => [document.documentElement, ...document.querySelectorAll('.table-scroll')]
    .filter((box) => box.scrollWidth > box.clientWidth + 1).map((box) => box.className)"""


@pytest.fixture
def long_agent(proxy: ProxyServer) -> Iterator[None]:
    folder = Path(proxy.env["AGENTS_DIR"])
    folder.mkdir(exist_ok=True)
    path = folder / "long.md"
    path.write_text(f"---\nname: long\ndescription: {DESCRIPTION}\n---\nLong prompt.\n")
    yield
    path.unlink()


def test_overlong_hostile_strings_stay_text_inside_their_boxes(
    page: object, proxy: ProxyServer, long_agent: None
) -> None:
    row = make_request(model=MODEL, error_message=ERROR, status_code=400, success=False)
    pages = [
        ("/dashboard/", "[data-model-legend] .mono"),
        ("/dashboard/requests/", "[data-rows] tr .badge"),
        (f"/dashboard/requests/{row.id}/", ".banner.error"),
        ("/dashboard/agents/", '[data-agent-row="long"]'),
    ]
    for path, ready in pages:
        page.goto(f"{proxy.url}{path}")
        page.wait_for_selector(ready)

        assert page.evaluate(OVERFLOW) == [], path
    assert page.evaluate("window.__ran") is None
    assert page.errors == []
