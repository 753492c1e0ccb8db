"""Strings a client, an upstream or an agent file chose, in a real browser: shown as text,
never run, and never wider than the box they are shown in."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from access import credentials
from tests.conftest import ProxyServer
from tests.dashboard.conftest import wait_live
from tests.factories import make_account, make_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

# Markup that would run if it were ever parsed as HTML, then one unbroken word.
# The model as the recorder keeps it: its first 128 characters, as the column holds.
MODEL = ("claude-<img src=x onerror=window.__ran=1>" + "m" * 400)[:128]
ERROR = "<script>window.__ran=2</script>" + "e" * 3000
DESCRIPTION = "<img src=x onerror=window.__ran=3>" + "d" * 2000
# A page fits the window, and each scrolling table fits its card.
VIOLATIONS = """window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (event) => window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`));"""
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
        ("/dashboard/analytics/", "[data-model-table] td.mono"),
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


def test_a_right_to_left_override_in_a_model_name_stays_inside_it(
    page: object, proxy: ProxyServer
) -> None:
    # It reversed the rest of the live activity line: "sm 11 · niam · ledom-live".
    account = make_account(name="main")
    make_request(model="claude-\u202eevil-model", account=account)

    page.goto(f"{proxy.url}/dashboard/")
    page.wait_for_selector("[data-activity] .sub bdi")

    isolated = page.evaluate(
        "[...document.querySelectorAll('[data-activity] .sub bdi')].map((bdi) => bdi.textContent)"
    )
    assert isolated[:2] == ["\u202eevil-model", "main"]


def test_every_page_runs_under_a_content_security_policy_it_never_violates(
    page: object, proxy: ProxyServer, staff_user: User, long_agent: None
) -> None:
    User.objects.filter(pk=staff_user.pk).update(is_superuser=True)  # every admin page
    account = make_account(name="work")
    row = make_request(model=MODEL, error_message=ERROR, status_code=400, success=False)
    page.add_init_script(VIOLATIONS)
    live = ["", "analytics/", "requests/", f"requests/{row.id}/", "accounts/", "agents/", "logs/"]
    admin = ["", "analytics/request/", f"analytics/request/{row.id}/change/"]
    admin += ["accounts/account/", f"accounts/account/{account.pk}/change/"]
    admin += ["accounts/account/add/", "accounts/account/add-claude/"]
    pages = [f"/dashboard/{path}" for path in live] + [f"/admin/{path}" for path in admin]
    for path in pages:
        answer = page.goto(f"{proxy.url}{path}")
        if path.startswith("/dashboard/"):
            wait_live(page)  # the websocket is allowed too

        assert "script-src 'self';" in answer.headers["content-security-policy"], path
        assert page.evaluate("window.__violations") == [], path
    assert page.errors == []


LONG_NAME = "a-very-long-account-name-" * 4  # 100 characters, the most a name may have
# Each free-text cell shown cut: its text wider than its box, all of it in its title.
CUT = """(selector) => [...document.querySelectorAll(selector)].map((cell) =>
    [cell.title, cell.scrollWidth > cell.clientWidth])"""


def test_long_account_and_key_names_are_cut_and_every_column_stays_in_view(
    page: object, proxy: ProxyServer
) -> None:
    account = make_account(name=LONG_NAME)
    key, _ = credentials.create_client_key(name=("a-long-client-key-name-" * 5)[:100])
    make_request(account=account, client_key=key, model=MODEL)
    pages = [
        ("/dashboard/requests/", "[data-rows]", [LONG_NAME, key.name]),
        ("/dashboard/", "[data-key-table]", [key.name]),
    ]
    for path, table, names in pages:
        page.goto(f"{proxy.url}{path}")
        page.wait_for_selector(f"{table} tr")

        assert page.evaluate(OVERFLOW) == [], path
        assert page.evaluate(CUT, f"{table} td.cut") == [[name, True] for name in names], path
    assert page.errors == []
