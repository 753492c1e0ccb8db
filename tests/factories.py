"""Builders for test data: each saves one row with sensible defaults and takes field overrides."""

from typing import Any

from accounts.models import Account
from analytics.models import Request


def make_account(*, name: str = "acct-1", **overrides: Any) -> Account:
    """A saved API-key account; pass any Account field to override the defaults."""
    fields: dict[str, Any] = {
        "kind": Account.Kind.API_KEY,
        "api_key": "sk-ant-api03-factory-key-0000",
        **overrides,
    }
    return Account.objects.create(name=name, **fields)


def make_request(**overrides: Any) -> Request:
    """A saved request row; pass any Request field to override the defaults."""
    fields: dict[str, Any] = {
        "method": "POST",
        "path": "/v1/messages",
        "status_code": 200,
        "success": True,
        **overrides,
    }
    prompt = (
        fields.get("input_tokens", 0)
        + fields.get("cache_read_input_tokens", 0)
        + fields.get("cache_creation_input_tokens", 0)
    )
    fields.setdefault("prompt_tokens", prompt)
    fields.setdefault("completion_tokens", fields.get("output_tokens", 0))
    fields.setdefault("total_tokens", prompt + fields.get("output_tokens", 0))
    return Request.objects.create(**fields)
