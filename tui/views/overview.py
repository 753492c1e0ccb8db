"""Overview: the range's totals, and each account's health, windows and session."""

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui import format
from tui.client import ApiProblem
from tui.views.ranges import RangedView
from tui.views.shared import ReportsFailures, column_widths, shared

# Window bars' width in cells: at 80 columns, and at most.
OVERVIEW_BAR, WIDEST_BAR = 8, 40


class OverviewView(RangedView, ReportsFailures, Vertical):
    BINDINGS = [Binding("r", "next_range", "Range")]

    def compose(self) -> ComposeResult:
        yield Static("", id="totals", classes="bar")
        table: DataTable = DataTable(id="overview-accounts", cursor_type="none", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        # Totals follow the requests stream: a finished request marks them stale, and
        # they are read again at most once a second.
        self.set_interval(1.0, self.refresh_if_stale)

    def on_resize(self) -> None:
        self.show_accounts(shared(self).accounts)

    def refresh_if_stale(self) -> None:
        if self.stale:
            self.stale = False
            self.run_worker(self.load_totals(), group="totals", exclusive=True, exit_on_error=False)

    async def load_totals(self) -> None:
        try:
            report = await shared(self).client.get("/api/analytics", range=self.range)
        except ApiProblem as problem:
            self.query_one("#totals", Static).update(Text(str(problem), style="red"))
            self.stale = True  # asked again next tick: the message went once the server came back
            return
        self.query_one("#totals", Static).update(totals_line(self.range, report.get("totals", {})))

    def show_accounts(self, accounts: list[dict]) -> None:
        table = self.query_one(DataTable)
        # Columns too: their widths follow the bars' width, which follows the terminal's.
        # The bars take what a wide terminal has to spare beyond the other columns.
        bar = min(max((self.size.width - 64) // 2, OVERVIEW_BAR), WIDEST_BAR)
        names = [(format.name(a.get("name")), format.health(a)) for a in accounts]
        # Set, not left to DataTable: it sizes auto-width columns only when next idle.
        name_width, health_width = column_widths(("Account", "Health"), [(None, n) for n in names])
        table.clear(columns=True)
        table.add_column("Account", width=name_width)
        table.add_column("Health", width=health_width)
        # " 100% ↻23h59m" after the bar.
        table.add_column("5-hour window", width=bar + 13)
        table.add_column("7-day window", width=bar + 13)
        table.add_column("Session", width=10)
        for account, (name, health) in zip(accounts, names, strict=True):
            table.add_row(
                name,
                health,
                format.window_bar(
                    account.get("fiveHourUtilization"),
                    account.get("fiveHourReset"),
                    width=bar,
                ),
                format.window_bar(
                    account.get("sevenDayUtilization"),
                    account.get("sevenDayReset"),
                    width=bar,
                ),
                Text("● holds it", style="cyan") if account.get("holdsSession") else "",
                key=str(account.get("id")),
            )


def totals_line(range_: str, totals: dict) -> Text:
    line = Text(f"[{range_}] ", style="bold")
    parts = [
        ("requests", format.count(totals.get("requests"))),
        ("success", format.percent(totals.get("successRate"))),
        ("tokens", format.count(totals.get("totalTokens"))),
        ("cost", format.total_cost(totals)),
        ("speed", format.speed(totals.get("avgTokensPerSecond"))),
    ]
    for label, value in parts:
        line.append(f"{label} ", style="dim")
        line.append(f"{value}  ")
    return line
