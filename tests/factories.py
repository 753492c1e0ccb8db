"""Builders for test data: each saves one row with sensible defaults and takes field overrides."""

import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Account
from analytics.models import Request
from analytics.recording.write_behind import RequestRecord


def make_account(*, name: str = "acct-1", **overrides: Any) -> Account:
    """A saved API-key account; pass any Account field to override the defaults."""
    fields: dict[str, Any] = {
        "kind": Account.Kind.API_KEY,
        "api_key": "sk-ant-api03-factory-key-0000",
        **overrides,
    }
    return Account.objects.create(name=name, **fields)


def make_oauth_account(
    *, name: str = "oauth-1", expires_at: datetime | None = None, **overrides: Any
) -> Account:
    """A saved Claude Pro/Max OAuth account whose access token is valid for an hour by default."""
    fields: dict[str, Any] = {
        "kind": Account.Kind.OAUTH,
        "api_key": None,
        "access_token": f"sk-ant-oat01-{name}-access-secret",
        "refresh_token": f"sk-ant-ort01-{name}-refresh-secret",
        "expires_at": expires_at or timezone.now() + timedelta(hours=1),
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


def make_record(**fields: Any) -> RequestRecord:
    """A finished request as the proxy hands it to the recorder (nothing saved)."""
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "started_at": time.time(),
        "method": "POST",
        "path": "/v1/messages",
        "status_code": 200,
        **fields,
    }
    return RequestRecord(**values)
