"""The modal questions the Accounts screen asks: a value, a typed confirmation, a new account."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tui.client import ApiProblem

T = TypeVar("T")


class Dialog(ModalScreen[T]):
    """A box in the middle of the screen; Escape closes it with no answer."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    Dialog Input, Dialog Select, Dialog Button { margin-top: 1; }
    Dialog .title { text-style: bold; }
    Dialog .error { color: $error; }
    Dialog .hint { color: $text-muted; }
    Dialog .link { background: $boost; }
    """

    def action_cancel(self) -> None:
        self.dismiss(None)


class Prompt(Dialog[str | None]):
    """Ask for one value; Enter answers it, Escape cancels (None).

    With `must_equal`, only that exact text is accepted: removing an account asks for
    its name typed out, as the dashboard and the API do.
    """

    def __init__(
        self, title: str, *, value: str = "", placeholder: str = "", must_equal: str | None = None
    ) -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder = title, value, placeholder
        self.must_equal = must_equal

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text), classes="title")
            yield Input(value=self.value, placeholder=self.placeholder, id="answer", compact=True)
            yield Static("", id="problem", classes="error")
            yield Static("Enter: OK   Escape: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        answer = event.value.strip()
        if self.must_equal is not None and answer != self.must_equal:
            self.query_one("#problem", Static).update(Text(f"Type '{self.must_equal}' to confirm"))
            return
        self.dismiss(answer or None)


@dataclass(frozen=True)
class NewAccount:
    name: str
    method: str  # "api_key", "max" or "console" (the OAuth login's modes)
    tier: int
    api_key: str = ""


METHODS = [
    ("API key (pasted)", "api_key"),
    ("Claude Pro/Max login (OAuth)", "max"),
    ("Console login (OAuth, makes an API key)", "console"),
]
TIERS = [("Tier 1", 1), ("Tier 5", 5), ("Tier 20", 20)]


class AddAccount(Dialog[NewAccount | None]):
    """Name, how it logs in, its tier; the API key when one is pasted."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Add an account", classes="title")
            yield Input(placeholder="name", id="name", compact=True)
            yield Select(METHODS, value="api_key", allow_blank=False, id="method", compact=True)
            yield Input(
                placeholder="sk-ant-api03-… (the API key)",
                password=True,
                id="api-key",
                compact=True,
            )
            yield Select(TIERS, value=1, allow_blank=False, id="tier", compact=True)
            yield Static("", id="problem", classes="error")
            yield Button("Add", variant="primary", id="add", compact=True)
            yield Static("Enter in a field or the button: add   Escape: cancel", classes="hint")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "method":
            self.query_one("#api-key", Input).display = event.value == "api_key"

    def on_input_submitted(self) -> None:
        self.submit()

    def on_button_pressed(self) -> None:
        self.submit()

    def submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        method = str(self.query_one("#method", Select).value)
        api_key = self.query_one("#api-key", Input).value.strip()
        problem = self.query_one("#problem", Static)
        if not name:
            problem.update("A name is needed")
        elif method == "api_key" and not api_key:
            problem.update("Paste the API key")
        else:
            tier = self.query_one("#tier", Select).value
            self.dismiss(NewAccount(name, method, int(str(tier)), api_key))


class OAuthCode(Dialog[str | None]):
    """Show the login link, take the pasted code and finish the login with `finish`.

    A refused code stays on this screen with the server's reason, so it can be pasted
    again; the screen answers `finish`'s message once the account is added.
    """

    BINDINGS = [Binding("ctrl+y", "copy_link", "Copy link")]

    def __init__(self, name: str, auth_url: str, finish: Callable[[str], Awaitable[str]]) -> None:
        super().__init__()
        self.account_name, self.auth_url, self.finish = name, auth_url, finish

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"Log in '{self.account_name}'"), classes="title")
            yield Static("Open this link in a browser (on any machine) and log in:")
            yield Static(Text(self.auth_url), classes="link", id="auth-url")
            yield Static("Then paste the code it shows (code#state) here:")
            yield Input(placeholder="code#state", id="code", compact=True)
            yield Static("", id="problem", classes="error")
            yield Static("Ctrl+Y: copy the link   Escape: cancel", classes="hint")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        code = event.value.strip()
        if not code:
            return
        try:
            message = await self.finish(code)
        except ApiProblem as problem:
            self.query_one("#problem", Static).update(Text(str(problem)))
            return
        self.dismiss(message)

    def action_copy_link(self) -> None:
        # OSC 52: most terminals put it on the clipboard of the machine in front of
        # you, over SSH too; where one does not, the link is on screen to select.
        self.app.copy_to_clipboard(self.auth_url)
        self.notify("Link copied (if your terminal allows it)")
