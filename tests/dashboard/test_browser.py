"""The dashboard in a real headless Chromium against a real daphne and the fake upstream.

Covers what a person does: log in, open every page (screenshots in light and dark
under test-artifacts/screenshots/), watch a request appear live, pause and resume an
account, add one through the two-step OAuth login, rename and delete one, follow the
log, and get refused without staff rights.
"""

import subprocess
import threading
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session

from accounts.models import Account
from analytics.models import Request
from tests import servers
from tests.conftest import FakeUpstream, ProxyServer
from tests.dashboard import seed
from tests.dashboard.conftest import add_session, screenshot, wait_live
from tests.factories import make_account, make_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

MESSAGE = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}
SLOW_STREAM = "slow_stream;events=15;interval_ms=100"


def send(proxy: ProxyServer, *, stream: bool = False) -> httpx.Response:
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "client-key"}
    if stream:
        headers["x-fake-scenario"] = SLOW_STREAM
    body = {**MESSAGE, "stream": stream}
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=20)


def mark_page(page: object) -> None:
    """Tag the document: the tag is gone if the page reloads, so updates came live."""
    page.evaluate("window.__noReload = true")


def assert_not_reloaded(page: object) -> None:
    assert page.evaluate("window.__noReload === true")


def test_every_page_renders_with_seeded_data(page: object, proxy: ProxyServer) -> None:
    seed.seed_requests(400, accounts=seed.seed_accounts(), payloads=5)
    newest = Request.objects.filter(payload__isnull=False).order_by("-timestamp").first()
    pages = [
        ("overview", "/dashboard/", '[data-kpi="requests"] .value:not(:text("–"))', True),
        ("analytics", "/dashboard/analytics/", "[data-model-table] tr td.mono", True),
        ("requests", "/dashboard/requests/", "[data-rows] tr", False),
        ("accounts", "/dashboard/accounts/", ".account-card", True),
    ]
    for name, path, ready, full_page in pages:
        page.goto(f"{proxy.url}{path}")
        page.wait_for_selector(ready)
        wait_live(page)
        screenshot(page, name, full_page=full_page)

    page.goto(f"{proxy.url}/dashboard/requests/#{newest.id}")
    page.wait_for_selector(".request-detail .msg.assistant")
    screenshot(page, "request-detail")
    page.click('.request-detail [data-tab="routing"]')
    page.wait_for_selector(".trace li.served")

    page.goto(f"{proxy.url}/admin/")
    page.click("a.dashboard-link")
    page.wait_for_url("**/dashboard/")
    assert page.errors == []


def test_a_request_appears_live_on_the_requests_and_overview_pages(
    page: object, context: object, proxy: ProxyServer
) -> None:
    make_account(name="live-key", api_key="sk-ant-api03-live-0001")
    page.goto(f"{proxy.url}/dashboard/requests/")
    wait_live(page)
    overview = context.new_page()
    overview.goto(f"{proxy.url}/dashboard/")
    wait_live(overview)
    mark_page(page)
    mark_page(overview)

    streaming = threading.Thread(target=send, args=(proxy,), kwargs={"stream": True})
    streaming.start()
    pending = page.wait_for_selector('[data-rows] tr[data-state="pending"]', timeout=10_000)
    pending_text = pending.inner_text()
    streaming.join()
    row = page.wait_for_selector('[data-rows] tr[data-state="done"]', timeout=10_000)
    feed = overview.wait_for_selector('[data-activity] li[data-state="done"]', timeout=10_000)

    assert "pending" in pending_text and "/v1/messages" in pending_text
    assert "200" in row.inner_text() and "live-key" in row.inner_text()
    assert "/v1/messages" in feed.inner_text()
    assert overview.inner_text('[data-kpi="requests"] .value') == "1"
    assert_not_reloaded(page)
    assert_not_reloaded(overview)
    row.click()
    page.wait_for_selector(".request-detail .msg.assistant")
    assert "fake upstream" in page.inner_text(".request-detail .msg.assistant")
    assert page.errors == []


def test_pausing_an_account_from_the_accounts_page(page: object, proxy: ProxyServer) -> None:
    account = make_account(name="pausable")
    page.goto(f"{proxy.url}/dashboard/accounts/")
    wait_live(page)
    mark_page(page)
    card = f'.account-card[data-account-id="{account.pk}"]'

    page.click(f'{card} [data-action="pause"]')
    page.wait_for_selector(f'{card}[data-state="paused"]')
    paused = Account.objects.get(pk=account.pk).paused
    page.click(f'{card} [data-action="resume"]')
    page.wait_for_selector(f'{card}[data-state="ok"]')

    assert paused is True
    assert Account.objects.get(pk=account.pk).paused is False
    assert_not_reloaded(page)


def test_an_account_paused_elsewhere_changes_state_on_the_open_page(
    page: object, proxy: ProxyServer
) -> None:
    account = make_account(name="remote")
    page.goto(f"{proxy.url}/dashboard/")
    wait_live(page)
    mark_page(page)

    # Through the API on the live server, as another operator or a script would.
    response = httpx.post(
        f"{proxy.url}/api/accounts/{account.pk}/pause", headers=token_headers(), timeout=10
    )

    assert response.status_code == 200
    page.wait_for_selector(f'.pool-row[data-account-id="{account.pk}"][data-state="paused"]')
    assert_not_reloaded(page)


def token_headers() -> dict[str, str]:
    from access import credentials

    return {"Authorization": f"Bearer {credentials.create_api_token(name='browser-test')[1]}"}


def start_claude_login(page: object, proxy: ProxyServer, name: str) -> str:
    """Step 1 of adding an account with the Claude login; returns the login's state."""
    page.goto(f"{proxy.url}/dashboard/accounts/")
    wait_live(page)
    page.click("[data-add-toggle]")
    page.fill('[data-oauth-start] [name="name"]', name)
    page.click('[data-oauth-start] button[type="submit"]')
    page.wait_for_selector("[data-oauth-finish]:not([hidden])")
    return page.get_attribute("[data-auth-url]", "href").split("state=")[1].split("&")[0]


def test_adding_an_account_with_the_two_step_oauth_login(page: object, proxy: ProxyServer) -> None:
    state = start_claude_login(page, proxy, "new-max")

    page.fill('[data-oauth-finish] [name="code"]', f"c1#{state}")
    page.click('[data-oauth-finish] button[type="submit"]')
    page.wait_for_selector('.account-card[data-account-name="new-max"]')

    account = Account.objects.get(name="new-max")
    assert account.kind == Account.Kind.OAUTH and account.refresh_token
    assert "added" in page.inner_text("[data-banner]").lower()


def test_the_login_code_is_sent_once_and_its_form_is_back_after_a_failure(
    page: object, proxy: ProxyServer
) -> None:
    # A double click on "Complete setup" sent the code twice: the second answer, "Invalid
    # 'code' in request (HTTP 400)", came after the account was added by the first.
    state = start_claude_login(page, proxy, "new-max")
    code, finish = '[data-oauth-finish] [name="code"]', '[data-oauth-finish] button[type="submit"]'
    page.fill(code, "c1#not-the-state")
    page.click(finish)
    page.wait_for_selector("[data-banner].error")
    enabled_after_failure = page.is_enabled(finish) and page.is_enabled(code)

    held: list[object] = []
    page.route("**/api/oauth/callback", lambda route: held.append(route))
    page.fill(code, f"c1#{state}")
    page.dblclick(finish)
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)  # lets Playwright run the route handler meanwhile
    page.wait_for_timeout(300)  # time for a second request, were one sent
    disabled_while_sent = page.is_disabled(finish) and page.is_disabled(code)
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    page.wait_for_selector('.account-card[data-account-name="new-max"]')

    assert enabled_after_failure and disabled_while_sent
    assert len(held) == 1
    assert "added" in page.inner_text("[data-banner]").lower()


def test_renaming_and_deleting_with_typed_confirmation(page: object, proxy: ProxyServer) -> None:
    account = make_account(name="old-name")
    page.goto(f"{proxy.url}/dashboard/accounts/")
    wait_live(page)
    card = f'.account-card[data-account-id="{account.pk}"]'

    page.click(f'{card} [data-action="rename"]')
    page.fill('[data-rename-dialog] [name="name"]', "new-name")
    page.click('[data-rename-dialog] button[value="ok"]')
    page.wait_for_selector(f'{card}[data-account-name="new-name"]')
    page.click(f'{card} [data-action="delete"]')
    page.fill('[data-delete-dialog] [name="confirm"]', "new-nam")
    disabled_on_typo = page.is_disabled("[data-delete-confirm]")
    page.fill('[data-delete-dialog] [name="confirm"]', "new-name")
    page.click("[data-delete-confirm]")
    page.wait_for_selector(card, state="detached")

    assert disabled_on_typo
    assert not Account.objects.filter(pk=account.pk).exists()


def test_a_line_that_arrives_while_the_history_loads_is_kept(
    page: object, proxy: ProxyServer
) -> None:
    # The history loads after the socket joined the log group; a line logged in between
    # came live, then the (older) history replaced everything shown: it was lost. Here
    # the history is read at once but handed to the page only after such a line came.
    held: list[tuple[object, object]] = []
    page.route("**/api/logs/history*", lambda route: held.append((route, route.fetch())))
    page.goto(f"{proxy.url}/dashboard/logs/")
    wait_live(page)
    for _ in range(200):  # the page asks for it after the socket's hello
        if held:
            break
        page.wait_for_timeout(50)  # lets Playwright run the route handler meanwhile
    assert held, "the page asked for no history"

    httpx.get(f"{proxy.url}/missing-while-the-history-loads", timeout=10)
    line = ".logline:has-text('missing-while-the-history-loads')"
    page.wait_for_selector(line, timeout=10_000)
    route, history = held[0]
    route.fulfill(response=history)  # type: ignore[attr-defined]
    page.wait_for_selector("[data-log-box][data-history-loaded]")

    assert page.locator(line).count() == 1


def test_the_log_page_tails_new_lines(
    page: object, proxy: ProxyServer, fake_upstream: FakeUpstream
) -> None:
    make_account(name="busy", api_key="sk-ant-api03-busy-0001")
    fake_upstream.add_rule(credential="sk-ant-api03-busy-0001", status=429, times=1)
    page.goto(f"{proxy.url}/dashboard/logs/")
    wait_live(page)

    # A rate limit and a 404 (Django logs each one as a warning): lines caused from outside.
    send(proxy)
    httpx.get(f"{proxy.url}/no-such-page-for-the-log-test", timeout=10)

    page.wait_for_selector(".logline:has-text('no-such-page-for-the-log-test')", timeout=10_000)
    screenshot(page, "logs")
    page.click("[data-log-pause]")
    httpx.get(f"{proxy.url}/second-missing-page", timeout=10)
    page.wait_for_selector("[data-log-count]:has-text('1 waiting')", timeout=10_000)
    held_back = page.locator(".logline:has-text('second-missing-page')").count()
    page.click("[data-log-pause]")
    page.wait_for_selector(".logline:has-text('second-missing-page')")
    page.click("[data-log-clear]")

    assert held_back == 0
    assert page.locator(".logline").count() == 0


def test_logging_in_through_the_admin_form_leads_to_the_dashboard(
    context: object, proxy: ProxyServer, staff_user: User, settings: object
) -> None:
    # The server checks passwords with its own hashers, not the tests' fast MD5 one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    staff_user.set_password("a-real-password-1")
    staff_user.save()
    page = context.new_page()

    page.goto(f"{proxy.url}/dashboard/")
    login_url = page.url
    page.fill("#id_username", staff_user.username)
    page.fill("#id_password", "a-real-password-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"{proxy.url}/dashboard/")
    wait_live(page)

    assert login_url == f"{proxy.url}/admin/login/?next=/dashboard/"
    assert page.inner_text("h1") == "Overview"


def test_a_visitor_without_staff_rights_is_sent_to_login_and_refused_by_the_socket(
    context: object, proxy: ProxyServer, browser: object
) -> None:
    page = context.new_page()
    page.goto(f"{proxy.url}/dashboard/requests/")
    anonymous_url = page.url
    anonymous_socket = open_socket(page, proxy)
    add_session(context, proxy.url, User.objects.create_user("visitor", is_staff=False))
    page.goto(f"{proxy.url}/dashboard/")
    non_staff_url = page.url
    non_staff_socket = open_socket(page, proxy)

    assert anonymous_url == f"{proxy.url}/admin/login/?next=/dashboard/requests/"
    assert non_staff_url == f"{proxy.url}/admin/login/?next=/dashboard/"
    assert anonymous_socket == non_staff_socket == "refused"


def test_the_cost_says_how_many_requests_it_leaves_out_for_want_of_a_price(
    page: object, proxy: ProxyServer
) -> None:
    # They counted as $0 and nothing said so (PRICES.md: never silently $0). Large sums
    # are grouped: "$123456.2500" was hard to read.
    make_request(model="claude-sonnet-4-5", input_tokens=10, cost_usd=Decimal("123456.25"))
    make_request(model="claude-new-1", input_tokens=10, unpriced=True)

    page.goto(f"{proxy.url}/dashboard/")
    overview = page.inner_text('[data-kpi="cost"] .value')
    page.goto(f"{proxy.url}/dashboard/analytics/")
    page.wait_for_selector("[data-totals] strong")

    assert overview == "$123,456.25 + 1 unpriced"  # two decimals past $100
    assert "$123,456.2500 + 1 unpriced" in page.inner_text("[data-totals]")


def test_an_open_page_stops_its_live_feed_when_its_login_ends(page: object) -> None:
    # The socket kept sending every request, prompts included, after the logout.
    Session.objects.all().delete()  # as a logout in another tab, or the session's expiry

    page.wait_for_selector('[data-live-status="refused"]', timeout=15_000)
    assert page.inner_text("[data-live-label]") == "Signed out"


def open_socket(page: object, proxy: ProxyServer) -> str:
    """Try the dashboard websocket from the page's origin: 'open' or 'refused'."""
    url = proxy.url.replace("http://", "ws://") + "/ws/dashboard/"
    script = """url => new Promise(resolve => {
        const socket = new WebSocket(url);
        socket.onopen = () => { resolve("open"); socket.close(); };
        socket.onclose = () => resolve("refused");
    })"""
    return page.evaluate(script, url)


def test_the_page_reconnects_by_itself_after_a_server_restart(
    context: object, proxy: ProxyServer, staff_user: User, tmp_path: Path
) -> None:
    port = servers.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**proxy.env, "DATA_DIR": str(tmp_path)}
    server = start_daphne(port=port, env=env, log=tmp_path / "first.log")
    try:
        add_session(context, base, staff_user)
        page = context.new_page()
        page.goto(f"{base}/dashboard/requests/")
        wait_live(page)
        mark_page(page)
        servers.stop(server)
        page.wait_for_selector('[data-live-status="reconnecting"]')
        server = start_daphne(port=port, env=env, log=tmp_path / "second.log")
        page.wait_for_selector('[data-live-status="live"]', timeout=30_000)
        make_account(name="after-restart", api_key="sk-ant-api03-restart-0001")
        # A request before the server's snapshot holds the account would pass through
        # with no account (a loaded machine can take longer than one reload wait).
        servers.wait_accounts(base, 1)
        headers = {"anthropic-version": "2023-06-01"}
        sent = httpx.post(f"{base}/v1/messages", json=MESSAGE, headers=headers, timeout=20)
        assert sent.headers.get("x-ccflare-account") == "after-restart", sent.text
        # The account was added by another process: its name follows from /api/accounts.
        done = '[data-rows] tr[data-state="done"]:has-text("after-restart")'
        page.wait_for_selector(done, timeout=10_000)

        assert_not_reloaded(page)
    finally:
        servers.stop(server)


def start_daphne(*, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """daphne on a chosen port (servers.start_proxy_server picks its own), ready to serve."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*servers.DAPHNE, "-b", "127.0.0.1", "-p", str(port), "ccflare_site.asgi:application"],
            cwd=servers.PROJECT_ROOT,
            env=servers.server_env(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        servers.wait_until_ok(f"http://127.0.0.1:{port}/health", process=process, timeout=30)
    except BaseException:
        servers.stop(process)
        raise
    return process


def test_the_theme_switch_is_remembered_and_shared_with_the_admin(
    page: object, proxy: ProxyServer
) -> None:
    page.click('[data-theme-choice="dark"]')
    dashboard_theme = page.evaluate("document.documentElement.dataset.theme")
    page.goto(f"{proxy.url}/admin/")
    admin_theme = page.evaluate("document.documentElement.dataset.theme")
    page.goto(f"{proxy.url}/dashboard/accounts/")
    remembered = page.evaluate("document.documentElement.dataset.theme")
    page.click('[data-theme-choice="system"]')

    assert (dashboard_theme, admin_theme, remembered) == ("dark", "dark", "dark")
    assert page.evaluate("localStorage.getItem('theme')") == "auto"
