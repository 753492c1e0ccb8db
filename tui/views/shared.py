"""What the screens use of the app (tui/app.py), typed without importing it (no cycle)."""

from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from textual.widget import Widget

from tui.client import ApiClient


class Shared(Protocol):
    client: ApiClient
    accounts: list[dict]

    def account_name(self, account_id: str | None) -> str: ...

    async def refresh_accounts(self) -> None: ...

    async def act(self, call: Callable[[], Awaitable[object]], done: str) -> bool: ...


def shared(widget: Widget) -> Shared:
    return cast(Shared, widget.app)
