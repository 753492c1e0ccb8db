"""Analytics: /api/analytics for a range as sparklines, and the model and account breakdowns."""

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, Sparkline, Static

from tui import format
from tui.client import ApiProblem
from tui.views.ranges import RangedView
from tui.views.shared import ReportsFailures, fill, shared

MODEL_COLUMNS = ("Model", "Requests", "Cost", "p95", "Errors", "Speed")
ACCOUNT_COLUMNS = ("Account", "Requests", "Success")
# (timeSeries field, label, how its latest value reads)
SERIES = [
    ("requests", "Requests", format.count),
    ("tokens", "Tokens", format.count),
    ("costUsd", "Cost", format.cost),
    ("avgResponseTime", "Latency", format.millis),
]


class AnalyticsView(RangedView, ReportsFailures, VerticalScroll):
    BINDINGS = [Binding("r", "next_range", "Range")]
    DEFAULT_CSS = """
    AnalyticsView .series { height: 2; }
    AnalyticsView .series Label { width: 22; }
    AnalyticsView Sparkline { width: 1fr; height: 2; }
    AnalyticsView DataTable { height: auto; max-height: 12; margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="analytics-range", classes="bar")
        for field, _, _ in SERIES:
            with Horizontal(classes="series"):
                yield Label("", id=f"label-{field}")
                yield Sparkline([], id=f"spark-{field}")
        models: DataTable = DataTable(id="analytics-models", zebra_stripes=True)
        models.add_columns(*MODEL_COLUMNS)
        yield models
        accounts: DataTable = DataTable(id="analytics-accounts", zebra_stripes=True)
        accounts.add_columns(*ACCOUNT_COLUMNS)
        yield accounts

    def on_mount(self) -> None:
        self.set_interval(2.0, self.refresh_if_stale)

    def on_resize(self) -> None:
        self.stale = True  # its tables are fitted to the terminal's width

    def refresh_if_stale(self) -> None:
        # Only while shown: a hidden tab need not query the server on every request.
        if self.stale and self.is_on_screen:
            self.stale = False
            self.run_worker(self.load(), group="analytics", exclusive=True, exit_on_error=False)

    async def load(self) -> None:
        heading = self.query_one("#analytics-range", Static)
        try:
            report = await shared(self).client.get("/api/analytics", range=self.range)
        except ApiProblem as problem:
            heading.update(Text(str(problem), style="red"))
            self.stale = True  # asked again next tick: the message went once the server came back
            return
        totals = report.get("totals") or {}
        meta = report.get("meta") or {}
        heading.update(
            Text.assemble(
                (f"[{self.range}] ", "bold"),
                (f"per {meta.get('bucket', '?')} · ", "dim"),
                f"{format.count(totals.get('requests'))} requests · "
                f"{format.percent(totals.get('successRate'))} ok · "
                f"{format.total_cost(totals)}",
                ("   r range", "dim"),
            )
        )
        self.show_series(report.get("timeSeries") or [])
        self.show_models(report)
        self.show_accounts(report.get("accountPerformance") or [])

    def show_series(self, points: list[dict]) -> None:
        for field, label, reads in SERIES:
            values = [float(p.get(field) or 0) for p in points]
            self.query_one(f"#spark-{field}", Sparkline).data = values or [0.0]
            latest = reads(sum(values)) if field != "avgResponseTime" else reads(max(values or [0]))
            suffix = "max" if field == "avgResponseTime" else "total"
            self.query_one(f"#label-{field}", Label).update(f"{label} {latest} {suffix}")

    def show_models(self, report: dict) -> None:
        costs = {c.get("model"): c.get("costUsd") for c in report.get("costByModel") or []}
        counts = {m.get("model"): m.get("count") for m in report.get("modelDistribution") or []}
        rows = [
            (
                None,
                (
                    format.cut(Text(str(model.get("model") or "—")), format.MODEL_WIDTH),
                    format.count(counts.get(model.get("model"))),
                    format.cost(costs.get(model.get("model"))),
                    format.millis(model.get("p95ResponseTime")),
                    format.percent(model.get("errorRate")),
                    format.speed(model.get("avgTokensPerSecond")),
                ),
            )
            for model in report.get("modelPerformance") or []
        ]
        fill(self.query_one("#analytics-models", DataTable), MODEL_COLUMNS, rows, narrow=("Model",))

    def show_accounts(self, accounts: list[dict]) -> None:
        rows = [
            (
                None,
                (
                    format.name(account.get("name")),
                    format.count(account.get("requests")),
                    format.percent(account.get("successRate")),
                ),
            )
            for account in accounts
        ]
        fill(
            self.query_one("#analytics-accounts", DataTable),
            ACCOUNT_COLUMNS,
            rows,
            narrow=("Account",),
        )
