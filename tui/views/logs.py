"""Logs: the server's log lines live, with a level filter, pause and search."""

from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import RichLog, Static

from tui import format
from tui.client import ApiProblem
from tui.dialogs import Prompt
from tui.views.shared import ReportsFailures, shared

KEEP = 2000
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LEVEL_STYLES = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "red"}


class LogsView(ReportsFailures, Vertical):
    BINDINGS = [
        Binding("l", "level", "Level"),
        Binding("space", "pause", "Pause"),
        Binding("slash", "search", "Search", key_display="/"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: deque[dict] = deque(maxlen=KEEP)
        self.level = "INFO"
        self.search = ""
        self.paused = False
        self.missed = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="logs-state", classes="bar")
        yield RichLog(id="logs", wrap=True, max_lines=KEEP)

    def on_mount(self) -> None:
        self.show_state()
        self.run_worker(self.load_history(), group="logs-history", exit_on_error=False)

    def reload_history(self) -> None:
        """The stream (re)connected: read the history again, which also holds what was
        logged while it was away (once read, it was never read again: a TUI started while
        the server was down showed no history for good)."""
        self.run_worker(
            self.load_history(), group="logs-history", exclusive=True, exit_on_error=False
        )

    async def load_history(self) -> None:
        try:
            history = await shared(self).client.get("/api/logs/history", lines=500)
        except ApiProblem as problem:
            self.query_one(RichLog).write(Text(str(problem), style="red"))
            return
        if not isinstance(history, list):
            return
        self.lines.clear()
        self.lines.extend(h for h in history if isinstance(h, dict))
        self.redraw()

    def add_line(self, line: dict) -> None:
        self.lines.append(line)
        if self.paused:
            self.missed += 1
            self.show_state()
        elif self.shows(line):
            self.query_one(RichLog).write(rendered(line))

    def shows(self, line: dict) -> bool:
        level = str(line.get("level") or "INFO").upper()
        rank = LEVELS.index(level) if level in LEVELS else len(LEVELS)
        if rank < LEVELS.index(self.level):
            return False
        return self.search.lower() in str(line.get("msg") or "").lower()

    def redraw(self) -> None:
        log = self.query_one(RichLog)
        log.clear()
        for line in self.lines:
            if self.shows(line):
                log.write(rendered(line))

    def show_state(self) -> None:
        state = Text.assemble(("level ", "dim"), f"{self.level}+")
        if self.search:
            state.append_text(Text.assemble(("  search ", "dim"), repr(self.search)))
        if self.paused:
            state.append(f"  PAUSED ({self.missed} new)", style="yellow bold")
        state.append("   l level · space pause · / search", style="dim")
        self.query_one("#logs-state", Static).update(state)

    def action_level(self) -> None:
        self.level = LEVELS[(LEVELS.index(self.level) + 1) % len(LEVELS)]
        self.show_state()
        self.redraw()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.missed = 0
            self.redraw()
        self.show_state()

    def action_search(self) -> None:
        self.app.push_screen(
            Prompt("Show lines containing (empty: all)", value=self.search), self.set_search
        )

    def set_search(self, answer: str | None) -> None:
        self.search = answer or ""
        self.show_state()
        self.redraw()


def rendered(line: dict) -> Text:
    level = str(line.get("level") or "")
    return Text.assemble(
        (f"{format.clock(line.get('ts'))} ", "dim"),
        (f"{level:<7} ", LEVEL_STYLES.get(level.upper(), "")),
        str(line.get("msg") or ""),
    )
