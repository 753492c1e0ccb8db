"""Browser fixtures: Debian's headless Chromium driven by Playwright, logged in to a real daphne.

Playwright never downloads a browser here: it launches /usr/bin/chromium (installed by
.ci/ensure-chromium.sh from `make test`). Without it the browser tests skip, and the end
of the run says so in a banner, except under CI, where they must run and so fail instead.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import ProxyServer, in_ci
from tests.servers import CHROMIUM, CHROMIUM_ARGS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
STAFF_PASSWORD = "dashboard-pass-1"
VIEWPORT = {"width": 1440, "height": 960}


# Why the browser tests were skipped in this run, for the terminal summary.
_skipped_because: set[str] = set()


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason}; CI must run the browser tests")
    _skipped_because.add(reason)
    pytest.skip(reason)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A skipped browser test is easy to miss among dots: say it where nobody can."""
    if not _skipped_because:
        return
    terminalreporter.write_sep("!", "BROWSER TESTS SKIPPED: NOT RUN", red=True, bold=True)
    for reason in sorted(_skipped_because):
        terminalreporter.write_line(f"{reason}: the dashboard was not tested in a browser.")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per test module.

    Playwright's sync API leaves an asyncio loop marked as running on this thread while
    it is open, which Django's async-safety check takes for async code. The tests call
    the ORM only between browser steps, never concurrently, so the check is lifted
    while the browser is open, and the browser closes with its module so the tests
    after it run with the check on again.
    """
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (`bash .ci/ensure-chromium.sh` installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (requirements-dev.txt)")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def staff_user(proxy: ProxyServer, browser: object) -> User:
    return User.objects.create_user("operator", password=STAFF_PASSWORD, is_staff=True)


@pytest.fixture
def context(browser: object) -> Iterator[object]:
    """A fresh browser profile whose requests to anything but this machine are aborted."""
    ctx = browser.new_context(viewport=VIEWPORT)
    # No test reaches the internet: the OAuth login opens claude.com in a new tab, for one.
    ctx.route(lambda url: not url.startswith(("http://127.0.0.1", "ws://127.0.0.1")), _abort)
    yield ctx
    ctx.close()


def _abort(route: object) -> None:
    route.abort()


@pytest.fixture
def page(context: object, proxy: ProxyServer, staff_user: User) -> object:
    """A page on the dashboard with a staff session (test_login covers the login form)."""
    add_session(context, proxy.url, staff_user)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{proxy.url}/dashboard/")
    wait_live(page)
    return page


def add_session(context: object, base_url: str, user: User) -> None:
    """Log `user` in for the browser: a session made here, its cookie given to the browser."""
    client = Client()
    client.force_login(user)
    cookie = {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}
    context.add_cookies([cookie])


def wait_live(page: object) -> None:
    """Until the page's websocket is connected (the sidebar says Live)."""
    page.wait_for_selector('[data-live-status="live"]', timeout=10_000)


_WAIT_UNTIL = """(timeoutMs) => new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
        if (CONDITION) resolve();
        else if (Date.now() > deadline) reject(new Error("timed out"));
        else setTimeout(check, 20);
    };
    check();
})"""


def wait_until(page: object, condition: str, *, timeout_ms: int = 10_000) -> None:
    """Until the JavaScript expression `condition` holds on the page.

    Not wait_for_function: it runs its predicate through eval(), which the pages'
    Content-Security-Policy refuses; a script evaluate() hands over is not subject to it.
    """
    page.evaluate(_WAIT_UNTIL.replace("CONDITION", condition), timeout_ms)


def screenshot(page: object, name: str, *, full_page: bool = False) -> None:
    """Save `name`-light.png and `name`-dark.png under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        wait_until(page, f"document.documentElement.dataset.theme === '{scheme}'")
        # Charts redraw on a theme change; give the animation time to settle.
        page.wait_for_timeout(350)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{scheme}.png"), full_page=full_page)
    page.emulate_media(color_scheme="light")
