"""Accounts: the list with kind, tier, priority and health, and every change the API offers."""

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui import format
from tui.client import ApiProblem
from tui.dialogs import AddAccount, NewAccount, OAuthCode, Prompt
from tui.views.shared import ReportsFailures, fill, shared

COLUMNS = ("Account", "Kind", "Tier", "Prio", "Reqs", "Health")
HINT = "a add  p pause/resume  c clear limit  n rename  t tier  o priority  d remove"


class AccountsView(ReportsFailures, Vertical):
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("p", "pause", "Pause/resume"),
        Binding("c", "clear", "Clear limit"),
        Binding("n", "rename", "Rename"),
        Binding("t", "tier", "Tier"),
        Binding("o", "priority", "Priority"),
        Binding("d", "remove", "Remove"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(HINT, classes="bar")
        table: DataTable = DataTable(id="accounts-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table

    def show_accounts(self, accounts: list[dict]) -> None:
        table = self.query_one(DataTable)
        selected = self.selected()
        rows = [(str(account.get("id")), cells(account)) for account in accounts]
        fill(table, COLUMNS, rows, narrow=("Account", "Health"))
        if selected is not None and str(selected["id"]) in table.rows:
            table.move_cursor(row=table.get_row_index(str(selected["id"])))

    def on_resize(self) -> None:
        self.show_accounts(shared(self).accounts)

    def selected(self) -> dict | None:
        """The account under the cursor, as /api/accounts last listed it."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((a for a in shared(self).accounts if str(a.get("id")) == key), None)

    def path(self, account: dict, action: str = "") -> str:
        return f"/api/accounts/{account['id']}{action}"

    # Actions -----------------------------------------------------------------------------

    @work(exclusive=True, group="account-action", exit_on_error=False)
    async def action_pause(self) -> None:
        if (account := self.selected()) is None:
            return
        action = "resume" if account.get("paused") else "pause"
        client = shared(self).client
        await shared(self).act(
            lambda: client.post(self.path(account, f"/{action}")),
            f"{account['name']}: {action}d",
        )

    @work(exclusive=True, group="account-action", exit_on_error=False)
    async def action_clear(self) -> None:
        if (account := self.selected()) is None:
            return
        client = shared(self).client
        await shared(self).act(
            lambda: client.post(self.path(account, "/clear-rate-limit")),
            f"{account['name']}: rate limit and cooldown cleared",
        )

    @work(exclusive=True, group="account-action", exit_on_error=False)
    async def action_rename(self) -> None:
        if (account := self.selected()) is None:
            return
        name = await self.app.push_screen_wait(
            Prompt(f"New name for '{account['name']}'", value=str(account["name"]))
        )
        if name and name != account["name"]:
            client = shared(self).client
            await shared(self).act(
                lambda: client.post(self.path(account, "/rename"), {"name": name}),
                f"Renamed '{account['name']}' to '{name}'",
            )

    @work(exclusive=True, group="account-action", exit_on_error=False)
    async def action_tier(self) -> None:
        await self.change_number("tier", "Tier (1, 5 or 20)")

    @work(exclusive=True, group="account-action", exit_on_error=False)
    async def action_priority(self) -> None:
        await self.change_number("priority", "Priority (lower is tried first)")

    async def change_number(self, field: str, title: str) -> None:
        if (account := self.selected()) is None:
            return
        answer = await self.app.push_screen_wait(
            Prompt(f"{title} for '{account['name']}'", value=str(account.get(field, "")))
        )
        if answer is None:
            return
        try:
            value = int(answer)
        except ValueError:
            self.notify(f"{field.capitalize()} must be a whole number", severity="error")
            return
        client = shared(self).client
        await shared(self).act(
            lambda: client.post(self.path(account, f"/{field}"), {field: value}),
            f"{account['name']}: {field} {value}",
        )

    @work(exclusive=True, group="account-action", exit_on_error=False)
    async def action_remove(self) -> None:
        if (account := self.selected()) is None:
            return
        name = str(account["name"])
        typed = await self.app.push_screen_wait(
            Prompt(f"Remove '{name}'? Type its name to confirm", must_equal=name)
        )
        if typed == name:
            client = shared(self).client
            await shared(self).act(
                lambda: client.delete(self.path(account), {"confirm": name}), f"Removed '{name}'"
            )

    @work(exclusive=True, group="account-action", exit_on_error=False)
    async def action_add(self) -> None:
        new = await self.app.push_screen_wait(AddAccount())
        if new is None:
            return
        if new.method == "api_key":
            body = {"name": new.name, "apiKey": new.api_key, "tier": new.tier}
            client = shared(self).client
            await shared(self).act(
                lambda: client.post("/api/accounts", body), f"Added '{new.name}'"
            )
        else:
            await self.oauth_login(new)

    async def oauth_login(self, new: NewAccount) -> None:
        """As `manage.py add_account` does: the link to open, then the pasted code."""
        app = shared(self)
        body = {"name": new.name, "mode": new.method, "tier": new.tier}
        try:
            login = await app.client.post("/api/oauth/init", body)
        except ApiProblem as problem:
            self.notify(str(problem), severity="error", timeout=8, markup=False)
            return

        async def finish(code: str) -> str:
            reply = await app.client.post(
                "/api/oauth/callback", {"sessionId": login["sessionId"], "code": code}
            )
            return str(reply.get("message") or f"Added '{new.name}'")

        message = await self.app.push_screen_wait(
            OAuthCode(new.name, str(login["authUrl"]), finish)
        )
        if message is not None:
            self.notify(message, markup=False)
            await app.refresh_accounts()


def cells(account: dict) -> tuple[str | Text, ...]:
    return (
        format.name(account.get("name")),
        Text(str(account.get("kind") or "—")),
        str(account.get("tier") or "—"),
        str(account.get("priority", "—")),
        format.count(account.get("requestCount")),
        format.health(account),
    )
