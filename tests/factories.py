"""Builders for test data: each saves one row with sensible defaults and takes field overrides."""

from typing import Any

from accounts.models import Account


def make_account(*, name: str = "acct-1", **overrides: Any) -> Account:
    """A saved API-key account; pass any Account field to override the defaults."""
    fields: dict[str, Any] = {
        "kind": Account.Kind.API_KEY,
        "api_key": "sk-ant-api03-factory-key-0000",
        **overrides,
    }
    return Account.objects.create(name=name, **fields)
