"""Requests: newest first as they happen (in-flight ones marked), filters, Enter for the detail."""

import shlex
from datetime import UTC, datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui import format
from tui.client import ApiProblem
from tui.detail import RequestDetail
from tui.dialogs import Prompt
from tui.views.shared import ReportsFailures, fill, shared

# Rows kept and shown; the API's list answers at most 1000.
KEEP = 200
COLUMNS = ("Time", "Account", "Model", "Status", "Tokens", "Cost", "Took")
FILTER_HELP = "account:NAME  model:TEXT  status:ok|error  (empty: no filter)"


class RequestsView(ReportsFailures, Vertical):
    BINDINGS = [Binding("f", "filter", "Filter"), Binding("enter", "open", "Detail", show=True)]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: dict[str, dict] = {}
        self.filters: dict[str, str] = {}
        self.dirty = False
        # What the stream brings while the list is being read (None when no read is on).
        self.arrived: dict[str, dict] | None = None
        # The server start the stream is on (its `connected` id); in-flight rows carry the
        # one that announced them, so a reconnect to a new start drops those it killed.
        self.start_id: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="requests-filter", classes="bar")
        table: DataTable = DataTable(id="requests-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table

    def on_mount(self) -> None:
        self.show_filters()
        # Redrawn at most this often: a busy proxy sends many events a second.
        self.set_interval(0.25, self.render_if_dirty)

    def on_resize(self) -> None:
        self.dirty = True

    def render_if_dirty(self) -> None:
        if self.dirty:
            self.render_rows()

    # Data --------------------------------------------------------------------------------

    def connected(self, start_id: str | None) -> None:
        """The stream (re)connected to server start `start_id`: read the list to fill the gap."""
        self.start_id = start_id
        self.run_worker(self.load(), group="requests-list", exclusive=True, exit_on_error=False)

    async def load(self) -> None:
        arrived: dict[str, dict] = {}
        self.arrived = arrived
        try:
            rows = await shared(self).client.get("/api/requests", limit=KEEP)
        except ApiProblem as problem:
            self.notify(str(problem), severity="error", markup=False)
            return
        finally:
            # A newer read (a reconnect) may have replaced this one's collection.
            if self.arrived is arrived:
                self.arrived = None
        # On the top line, as the accounts' answer of the wrong shape is.
        wrong = None if isinstance(rows, list) else "/api/requests answered something not a list"
        shared(self).report("requests list", wrong)
        if wrong:
            return
        self.items = merged(with_ids(rows), self.items, arrived, start_id=self.start_id)
        self.render_rows()

    def on_frame(self, frame: dict) -> None:
        """A live event: `start` adds an in-flight row, `summary` completes it."""
        kind = frame.get("type")
        if kind == "start":
            item = {**frame, "inFlight": True, "startId": self.start_id}
        elif kind == "summary" and isinstance(frame.get("payload"), dict):
            item = {**frame["payload"], "inFlight": False}
        else:
            return
        if item.get("id") is None:
            return  # nothing to key it by: a row of no request
        # The stream names the account by id, the list by name.
        item["accountUsed"] = shared(self).account_name(
            item.get("accountUsed") or item.get("accountId")
        )
        key = str(item["id"])
        self.items[key] = {**self.items.get(key, {}), **item}
        if self.arrived is not None:
            self.arrived[key] = self.items[key]
        self.dirty = True

    # Showing -----------------------------------------------------------------------------

    def render_rows(self) -> None:
        self.dirty = False
        table = self.query_one(DataTable)
        # A cursor on the newest row stays on the top one, so new rows arrive in view
        # (following that row down scrolled them off the top); on an older row it stays
        # with that row, which is being looked at.
        selected = (
            table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if table.row_count and table.cursor_row > 0
            else None
        )
        newest = sorted(self.items.values(), key=started, reverse=True)
        self.items = {str(i["id"]): i for i in newest[:KEEP]}
        rows = [(str(i["id"]), cells(i)) for i in newest[:KEEP] if matches(i, self.filters)]
        fill(table, COLUMNS, rows, narrow=("Account", "Model"))
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))

    def show_filters(self) -> None:
        described = "  ".join(f"{k}:{v}" for k, v in self.filters.items()) or "none"
        self.query_one("#requests-filter", Static).update(
            Text.assemble(("filter ", "dim"), described, ("   f change · Enter detail", "dim"))
        )

    # Actions -----------------------------------------------------------------------------

    def action_filter(self) -> None:
        current = " ".join(f"{k}:{v}" for k, v in self.filters.items())
        self.app.push_screen(Prompt(f"Filter: {FILTER_HELP}", value=current), self.set_filters)

    def set_filters(self, answer: str | None) -> None:
        if answer is None and self.filters == {}:
            return
        self.filters = parse_filters(answer or "")
        self.show_filters()
        self.render_rows()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            self.app.push_screen(RequestDetail(str(key)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(RequestDetail(str(event.row_key.value)))


def merged(
    rows: list[dict], shown: dict[str, dict], arrived: dict[str, dict], *, start_id: str | None
) -> dict[str, dict]:
    """The list as read, plus what it cannot know yet: rows still in flight, and what the
    stream brought while the list was read (its query may have run before they were written).

    A row the list already has finished is never put back in flight. A row in flight that
    another server start than `start_id` announced goes: that request died with its server,
    never recorded.
    """
    items = {str(row["id"]): row for row in rows}
    for key, item in shown.items():
        if item.get("inFlight") and item.get("startId") == start_id:
            items.setdefault(key, item)
    for key, item in arrived.items():
        if not (item.get("inFlight") and key in items and not items[key].get("inFlight")):
            items[key] = item
    return items


def started(item: dict) -> datetime:
    return format.parse_time(item.get("timestamp")) or datetime.min.replace(tzinfo=UTC)


def parse_filters(text: str) -> dict[str, str]:
    """`account:work model:opus status:error` as a dict; unknown keys are ignored."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    pairs = (word.split(":", 1) for word in words if ":" in word)
    return {k: v for k, v in pairs if k in ("account", "model", "status") and v}


def matches(item: dict, filters: dict[str, str]) -> bool:
    if "account" in filters and filters["account"].lower() != str(item.get("accountUsed")).lower():
        return False
    if "model" in filters and filters["model"].lower() not in str(item.get("model") or "").lower():
        return False
    wanted = filters.get("status")
    if wanted and not item.get("inFlight"):
        return (wanted == "ok") == bool(item.get("success"))
    return True


def with_ids(rows: list) -> list[dict]:
    """The rows that are requests (objects with an id); the rest read as missing. A row
    without one crashed the whole TUI from its redraw timer."""
    return [row for row in rows if isinstance(row, dict) and row.get("id") is not None]


def short_model(model: object) -> str:
    """claude-sonnet-4-5-20250929 -> sonnet-4-5: the columns are narrow at 80x24."""
    if not isinstance(model, str) or not model:
        return "—"
    name = model.removeprefix("claude-")
    head, _, tail = name.rpartition("-")
    return head if tail.isdigit() and len(tail) == 8 else name


def cells(item: dict) -> tuple:
    in_flight = bool(item.get("inFlight"))
    return (
        format.clock(item.get("timestamp")),
        format.name(item.get("accountUsed")),
        format.name(short_model(item.get("model"))),
        format.status(item.get("statusCode"), in_flight=in_flight),
        "" if in_flight else format.count(item.get("totalTokens")),
        "" if in_flight else format.cost(item.get("costUsd")),
        "" if in_flight else format.millis(item.get("responseTimeMs")),
    )
