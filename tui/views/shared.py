"""What the screens use of the app (tui/app.py), typed without importing it (no cycle)."""

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Protocol, cast

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable
from textual.worker import Worker, WorkerState

from tui import format
from tui.client import ApiClient


class Shared(Protocol):
    client: ApiClient
    accounts: list[dict]

    def account_name(self, account_id: str | None) -> str: ...

    def report(self, source: str, problem: str | None) -> None: ...

    async def refresh_accounts(self) -> None: ...

    async def act(self, call: Callable[[], Awaitable[object]], done: str) -> bool: ...


def shared(widget: Widget) -> Shared:
    return cast(Shared, widget.app)


def report_failed_worker(widget: Widget, event: Worker.StateChanged) -> None:
    """A bug or an answer this version cannot read ends that one task, said on the top
    line, rather than the whole UI with a traceback (workers run with exit_on_error=False)."""
    if event.state == WorkerState.ERROR:
        shared(widget).report("internal", f"Something went wrong: {event.worker.error!r}")


class ReportsFailures(Widget):
    """Mixed into each screen: its failed workers are reported (worker messages do not bubble)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failed_worker(self, event)


# A table's rows: each one's key (None for a table nobody selects in) and its cells.
Rows = Sequence[tuple[str | None, tuple[str | Text, ...]]]


# A column narrowed to fit the screen keeps at least this many cells.
NARROWEST = 8


def fill(
    table: DataTable, columns: Sequence[str], rows: Rows, *, narrow: Collection[str] = ()
) -> None:
    """Replace the table's rows, its columns as wide as their widest title or cell.

    The widths are set here, from what is shown: DataTable sizes auto-width columns
    when it is next idle, and under load a busy app showed rows in columns as narrow
    as their titles ("11:5", "sonn") until something else happened.

    The columns named in `narrow` (free text) give up width, the widest first, until the
    row fits the terminal's width, their cells cut to an ellipsis: a row wider than the
    screen hides its last columns. The caller redraws on a resize.
    """
    widths = column_widths(columns, rows)
    if narrow:
        free = [columns.index(label) for label in narrow]
        widths = fitted(widths, free, room=room(table, len(columns)))
        rows = [(key, cut_cells(row, widths, free)) for key, row in rows]
    if widths != tuple(column.width for column in table.ordered_columns):
        table.clear(columns=True)
        for label, width in zip(columns, widths, strict=True):
            table.add_column(label, width=width)
    else:
        table.clear()
    for key, row in rows:
        table.add_row(*row, key=key)


def column_widths(columns: Sequence[str], rows: Rows) -> tuple[int, ...]:
    """Each column's width: its title's or its widest cell's."""
    widest = [cell_len(label) for label in columns]
    for _key, row in rows:
        for index, cell in enumerate(row):
            width = cell_len(cell) if isinstance(cell, str) else cell.cell_len
            widest[index] = max(widest[index], width)
    return tuple(widest)


def room(table: DataTable, count: int) -> int:
    """The cells the terminal leaves for `count` columns' text: tables span its width
    (the app's is known for a tab not shown yet; the table's own is 0 until it is)."""
    padding = 2 * table.cell_padding * count
    return table.app.size.width - padding - table.styles.scrollbar_size_vertical


def fitted(widths: tuple[int, ...], free: Sequence[int], *, room: int) -> tuple[int, ...]:
    """The widths with the `free` columns narrowed, the widest first, down to `room` in
    all or to NARROWEST each."""
    narrowed = list(widths)
    while sum(narrowed) > room:
        widest = max(free, key=lambda index: narrowed[index])
        if narrowed[widest] <= NARROWEST:
            break
        narrowed[widest] -= 1
    return tuple(narrowed)


def cut_cells(row: tuple[str | Text, ...], widths: tuple[int, ...], free: Sequence[int]) -> tuple:
    return tuple(
        format.cut(Text(cell) if isinstance(cell, str) else cell, widths[index])
        if index in free
        else cell
        for index, cell in enumerate(row)
    )
