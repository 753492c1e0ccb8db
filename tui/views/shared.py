"""What the screens use of the app (tui/app.py), typed without importing it (no cycle)."""

from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from textual.widget import Widget
from textual.worker import Worker, WorkerState

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
