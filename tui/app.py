"""The TUI application: five screens as tabs, the live streams and the connection line.

The app owns what every screen shares: the API client, the accounts (read on start, after
every change, at most once a second while requests finish, and every
ACCOUNTS_REFRESH_SECONDS, as the API has no accounts stream), the two SSE streams
(requests, logs) with their reconnects, and the one line at the top that says whether all
of that works.
"""

import asyncio
from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import App, ComposeResult, ScreenStackError
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import Footer, Static, TabbedContent, TabPane
from textual.worker import Worker

from tui.client import ApiClient, ApiProblem
from tui.views.accounts import AccountsView
from tui.views.analytics import AnalyticsView
from tui.views.logs import LogsView
from tui.views.overview import OverviewView
from tui.views.requests import RequestsView
from tui.views.shared import report_failed_worker

ACCOUNTS_REFRESH_SECONDS = 5.0
# A call that has waited this long for its answer is said on the top line, with its wait.
SLOW_AFTER_SECONDS = 3.0
# Reconnects wait this long, doubling after each failure up to the cap.
RECONNECT_FIRST_SECONDS, RECONNECT_MAX_SECONDS = 1.0, 30.0

TABS = [
    ("overview", "Overview", OverviewView),
    ("accounts", "Accounts", AccountsView),
    ("requests", "Requests", RequestsView),
    ("analytics", "Analytics", AnalyticsView),
    ("logs", "Logs", LogsView),
]


class CcflareApp(App):
    TITLE = "ccflare"
    CSS = """
    #connection { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    #connection.problem { background: $error 40%; color: $text; }
    TabbedContent, ContentSwitcher, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    DataTable { height: 1fr; }
    .bar { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        # The tabs' labels carry their numbers; the footer keeps its room for the screen's keys.
        *(
            Binding(str(number), f"show('{tab}')", label, show=False)
            for number, (tab, label, _) in enumerate(TABS, start=1)
        ),
        Binding("q", "quit", "Quit"),
        # What a terminal program does on Ctrl-C (Textual's default only says to press Ctrl-Q).
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, client: ApiClient) -> None:
        super().__init__()
        self.client = client
        self.accounts: list[dict] = []
        self.accounts_stale = False
        self.problems: dict[str, str] = {}
        self.retrying: set[str] = set()
        self.connection_line = ""
        self.accounts_read: Worker | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(f"connecting to {self.client.base_url} …"), id="connection")
        with TabbedContent(initial="overview"):
            for number, (tab, label, view) in enumerate(TABS, start=1):
                with TabPane(f"{number} {label}", id=tab):
                    yield view(id=f"{tab}-view")
        yield Footer()

    def on_mount(self) -> None:
        self.schedule_accounts_refresh()
        self.set_interval(ACCOUNTS_REFRESH_SECONDS, self.schedule_accounts_refresh)
        self.set_interval(1.0, self.show_waiting)
        # Finished requests change the accounts' counters and windows: read them again, at
        # most once a second however busy the proxy is.
        self.set_interval(1.0, self.refresh_accounts_if_stale)
        for path, source, handle in (
            ("/api/requests/stream", "requests stream", self.on_request),
            ("/api/logs/stream", "logs stream", self.on_log),
        ):
            self.run_worker(self.follow(path, source, handle), exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        try:
            screen = self.screen
        except ScreenStackError:
            return  # the app is closing: workers still report, with no screen left to tell
        report_failed_worker(screen, event)

    async def on_unmount(self) -> None:
        await self.client.close()

    def action_show(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # Keys go to the screen shown: its table (and so its bindings in the footer).
        pane = event.pane
        for widget in pane.query("DataTable, RichLog"):
            if widget.focusable:
                widget.focus()
                return

    # Accounts ----------------------------------------------------------------------------

    def schedule_accounts_refresh(self) -> None:
        # A read still under way is left to finish and this tick skipped: cancelling it for
        # a new one would, on a server slower than the tick, never let a read finish (and
        # never let the client's timeout say so). Skipping also never piles reads up.
        if self.accounts_read is not None and not self.accounts_read.is_finished:
            return
        self.accounts_stale = False
        self.accounts_read = self.run_worker(
            self.refresh_accounts(), group="accounts", exit_on_error=False
        )

    def refresh_accounts_if_stale(self) -> None:
        if self.accounts_stale:
            self.schedule_accounts_refresh()

    async def refresh_accounts(self) -> None:
        try:
            answer = await self.client.get("/api/accounts")
        except ApiProblem as problem:
            # The next tick reads again; a refused token needs the user, not a retry.
            self.report("api", str(problem), retrying=not problem.refused)
            return
        if not isinstance(answer, list):
            self.report("api", "/api/accounts answered something that is not a list of accounts")
            return
        self.report("api", None)
        self.accounts = readable_accounts(answer)
        self.query_one(OverviewView).show_accounts(self.accounts)
        self.query_one(AccountsView).show_accounts(self.accounts)

    def account_name(self, account_id: str | None) -> str:
        """The live stream names accounts by id; the lists by name."""
        for account in self.accounts:
            if account.get("id") == account_id:
                return str(account.get("name"))
        return account_id or "—"

    async def act(self, call: Callable[[], Awaitable[object]], done: str) -> bool:
        """Run a change against the API; notify its outcome and refresh the accounts."""
        try:
            await call()
        except ApiProblem as problem:
            self.notify(str(problem), severity="error", timeout=8, markup=False)
            return False
        self.notify(done, markup=False)
        await self.refresh_accounts()
        return True

    # Streams -----------------------------------------------------------------------------

    async def follow(self, path: str, source: str, handle: Callable[[dict], None]) -> None:
        """Read an SSE stream for as long as the app runs, reconnecting when it drops."""
        delay = RECONNECT_FIRST_SECONDS
        while True:
            try:
                async for frame in self.client.stream(path):
                    self.report(source, None)
                    delay = RECONNECT_FIRST_SECONDS
                    self.show_frame(handle, frame)
                problem = f"the server closed the {source}"
            except ApiProblem as error:
                problem = str(error)
            except Exception as error:
                # A bug reading the stream (an event of a shape nobody foresaw) must not
                # end the live view for good: it is said, and the stream read again.
                problem = f"The {source} failed: {error!r}"
            self.report(source, problem, retrying=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def show_frame(self, handle: Callable[[dict], None], frame: dict) -> None:
        # A frame this version cannot show (a newer server's, say) must not end the UI
        # with a traceback: it is skipped, and the line at the top says so.
        try:
            handle(frame)
        except Exception as error:
            self.report("frames", f"An event could not be shown: {error!r}")
        else:
            if "frames" in self.problems:
                self.report("frames", None)

    def on_request(self, frame: dict) -> None:
        if frame.get("event") == "connected":
            self.query_one(RequestsView).connected(frame.get("id"))
            return
        self.query_one(RequestsView).on_frame(frame)
        if frame.get("type") == "summary":
            self.query_one(OverviewView).mark_stale()
            self.query_one(AnalyticsView).mark_stale()
            self.accounts_stale = True

    def on_log(self, frame: dict) -> None:
        if frame.get("connected"):
            self.query_one(LogsView).reload_history()
        elif "msg" in frame:
            self.query_one(LogsView).add_line(frame)

    # The connection line -----------------------------------------------------------------

    def show_waiting(self) -> None:
        """Say a call that is slow to answer, so a hung server never reads as `live`."""
        waited = self.client.waited()
        if waited >= SLOW_AFTER_SECONDS:
            self.report("slow", f"slow: waiting for the server ({waited:.0f} s)")
        elif "slow" in self.problems:
            self.report("slow", None)

    def report(self, source: str, problem: str | None, *, retrying: bool = False) -> None:
        """Record (or clear) what is wrong with one source; the line shows each problem once."""
        if problem is None:
            self.problems.pop(source, None)
            self.retrying.discard(source)
        else:
            self.problems[source] = problem
            (self.retrying.add if retrying else self.retrying.discard)(source)
        # Each line says whether it is being retried (a slow call, say, is not).
        retried = {self.problems[name] for name in self.retrying}
        lines = [
            f"✖ {said}" + (" (reconnecting…)" if said in retried else "")
            for said in dict.fromkeys(self.problems.values())
        ]
        text = "\n".join(lines) or f"● live: {self.client.base_url}"
        if text != self.connection_line:  # called for every frame: redraw only on change
            self.connection_line = text
            try:
                line = self.query_one("#connection", Static)
            except NoMatches:
                return  # the app is closing: a task failed as its widgets went away
            line.update(Text(text))  # server messages are not markup
            line.set_class(bool(self.problems), "problem")


def readable_accounts(answer: list) -> list[dict]:
    """The accounts the screens can show: objects with an id, each id once; others skipped."""
    accounts: dict[str, dict] = {}
    for account in answer:
        if isinstance(account, dict) and isinstance(account.get("id"), str | int):
            accounts.setdefault(str(account["id"]), account)
    return list(accounts.values())
