"""The Accounts screen changes the pool through the API: what it does shows in /api/accounts."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from textual.widgets import DataTable, Input, Select

from accounts.models import Account
from tests.conftest import FakeUpstream
from tests.tui.conftest import LONG_NAME, Served, screen_text, shot, until
from tui.dialogs import AddAccount, OAuthCode, Prompt

pytestmark = pytest.mark.django_db(transaction=True)


async def open_accounts(pilot, app) -> DataTable:  # type: ignore[no-untyped-def]
    await pilot.press("2")
    table = app.query_one("#accounts-table", DataTable)
    await until(pilot, lambda: table.row_count == 2, "the accounts listed")
    return table


async def test_pausing_an_account_shows_in_the_api(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_accounts(pilot, app)
        shot(app, "accounts")

        await pilot.press("p")

        await until(pilot, lambda: served.accounts()["alpha"]["paused"], "alpha paused")
        await until(pilot, lambda: "paused" in screen_text(app), "paused shown")
        assert not served.accounts()["beta"]["paused"]

        await pilot.press("p")
        await until(pilot, lambda: not served.accounts()["alpha"]["paused"], "alpha resumed")


@pytest.fixture
def alpha_limited(served: Served) -> Served:
    Account.objects.filter(name="alpha").update(
        rate_limited_until=datetime.now(UTC) + timedelta(hours=1)
    )
    return served


async def test_clearing_a_rate_limit_lets_the_account_serve_again(alpha_limited: Served) -> None:
    served = alpha_limited
    app = served.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_accounts(pilot, app)
        await until(pilot, lambda: "rate limited" in screen_text(app), "the limit shown")

        await pilot.press("c")

        await until(pilot, lambda: served.accounts()["alpha"]["health"]["state"] == "ok", "ok")
        await until(pilot, lambda: "rate limited" not in screen_text(app), "the limit gone")


async def test_rename_tier_and_remove_with_the_name_typed(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_accounts(pilot, app)

        await pilot.press("t")
        await answer(pilot, app, "5")
        await until(pilot, lambda: served.accounts()["alpha"]["tier"] == 5, "tier 5")

        await pilot.press("n")
        await answer(pilot, app, "gamma")
        await until(pilot, lambda: "gamma" in served.accounts(), "renamed")

        await pilot.press("d")
        await answer(pilot, app, "wrong")
        assert "Type 'gamma' to confirm" in screen_text(app)
        await answer(pilot, app, "gamma")
        await until(pilot, lambda: "gamma" not in served.accounts(), "removed")
        assert set(served.accounts()) == {"beta"}


async def test_a_refused_change_is_shown_not_raised(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_accounts(pilot, app)
        await pilot.press("t")
        await answer(pilot, app, "7")
        await until(pilot, lambda: "(HTTP 400)" in screen_text(app), "the refusal")
        assert served.accounts()["alpha"]["tier"] == 1


async def test_adding_an_account_with_a_pasted_api_key(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_add_form(pilot, app)
        dialog.query_one("#name", Input).value = "keyed"
        dialog.query_one("#api-key", Input).value = "sk-ant-api03-keyed-secret-0003"
        await submit(pilot, dialog)

        await until(pilot, lambda: "keyed" in served.accounts(), "the account added")
        assert served.accounts()["keyed"]["kind"] == "api_key"


async def test_the_oauth_login_with_a_pasted_code(served: Served) -> None:
    app = served.app()
    async with app.run_test(size=(80, 24)) as pilot:
        login = await start_max_login(pilot, app, "maxed")
        assert login.auth_url.startswith("https://")
        shot(app, "oauth-login")
        state = parse_qs(urlsplit(login.auth_url).query)["state"][0]

        await type_into(pilot, login.query_one("#code", Input), f"c1#{state}")

        await until(pilot, lambda: "maxed" in served.accounts(), "the account added")
        assert served.accounts()["maxed"]["kind"] == "oauth"
        assert not isinstance(app.screen, OAuthCode)


async def test_a_refused_oauth_code_stays_to_be_pasted_again(
    served: Served, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.add_rule(
        credential="*",
        path="/v1/oauth/token",
        status=400,
        body={"error": "invalid_grant", "error_description": "Invalid 'code' in request."},
        times=1,
    )
    app = served.app()
    async with app.run_test(size=(80, 24)) as pilot:
        login = await start_max_login(pilot, app, "maxed")

        await type_into(pilot, login.query_one("#code", Input), "c1")

        await until(pilot, lambda: "Invalid 'code'" in screen_text(app), "the refusal in place")
        assert isinstance(app.screen, OAuthCode)
        assert "maxed" not in served.accounts()

        await type_into(pilot, login.query_one("#code", Input), "c2")
        await until(pilot, lambda: "maxed" in served.accounts(), "added on the second paste")


async def open_add_form(pilot, app) -> AddAccount:  # type: ignore[no-untyped-def]
    await open_accounts(pilot, app)
    await pilot.press("a")
    return await until(pilot, lambda: isinstance(app.screen, AddAccount) and app.screen, "form")


async def start_max_login(pilot, app, name: str) -> OAuthCode:  # type: ignore[no-untyped-def]
    """Ask for a Claude Max login from the add form; returns the screen the code is pasted in."""
    dialog = await open_add_form(pilot, app)
    dialog.query_one("#name", Input).value = name
    dialog.query_one("#method", Select).value = "max"
    await submit(pilot, dialog)
    return await until(pilot, lambda: isinstance(app.screen, OAuthCode) and app.screen, "link")


async def answer(pilot, app, text: str) -> None:  # type: ignore[no-untyped-def]
    prompt = await until(pilot, lambda: isinstance(app.screen, Prompt) and app.screen, "prompt")
    await type_into(pilot, prompt.query_one(Input), text)


async def type_into(pilot, field: Input, text: str) -> None:  # type: ignore[no-untyped-def]
    field.value = text
    field.focus()
    await pilot.press("enter")


async def submit(pilot, dialog: AddAccount) -> None:  # type: ignore[no-untyped-def]
    dialog.query_one("#name", Input).focus()
    await pilot.press("enter")


async def test_a_long_name_is_cut_and_the_other_columns_stay_on_screen(
    alpha_long_named: Served,
) -> None:
    app = alpha_long_named.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_accounts(pilot, app)
        await until(pilot, lambda: "paused" in screen_text(app), "beta's health shown")
        text = screen_text(app)

        assert "a-very-long-account-nam…" in text
        assert LONG_NAME not in text
        line = next(row for row in text.splitlines() if "a-very-long" in row)
        assert "ok" in line  # its Health column, still within 80 columns
