"""What an account name, a credential and a priority may be: the one set of rules for every input.

The model's fields carry these validators, and the admin form, the API schemas,
the commands (through `accounts.lifecycle` and `accounts.onboarding`) all call
them, so each entry point refuses the same values with the same words. They
raise Django's ValidationError; `pydantic_check` adapts one for a ninja schema.

A credential is sent as an HTTP header value on every proxied request: a line
break or other control character in it cannot be sent at all, so it would make
every request on that account fail. Hence: visible ASCII only, within bounds
generous for any key or token Anthropic issues (about 110 characters today).
"""

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

# The name rule is shared with API tokens and client keys; the accounts' rules all read here.
from lib.names import NAME_MAX_LENGTH as NAME_MAX_LENGTH
from lib.names import clean_name as clean_name
from lib.names import validate_name as validate_name

API_KEY_LENGTH = (20, 512)
# OAuth access/refresh tokens and long-lived `claude setup-token` tokens.
TOKEN_LENGTH = (20, 4096)
# Routing priorities run from -MAX_PRIORITY to MAX_PRIORITY: room for any ordering, and a
# number every database's integer column holds.
MAX_PRIORITY = 1_000_000

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
# What Anthropic's credentials begin with: Console API keys, and OAuth access and refresh
# tokens (long-lived `claude setup-token` tokens are access tokens).
_API_KEY_PREFIX = "sk-ant-api"
_TOKEN_PREFIXES = ("sk-ant-oat", "sk-ant-ort")


def validate_api_key(value: str) -> None:
    _check_secret(value, label="API key", length=API_KEY_LENGTH)
    if value.startswith(_TOKEN_PREFIXES):
        # Saved as a key, it was sent as one, refused with a 401, and the account benched.
        raise ValidationError(
            f"This is an OAuth token ({value[:12]}...), not an API key: add it as a token.",
            code="kind",
        )


def validate_token(value: str, *, label: str = "Token") -> None:
    _check_secret(value, label=label, length=TOKEN_LENGTH)
    if value.startswith(_API_KEY_PREFIX):
        raise ValidationError(
            f"This is an API key ({value[:12]}...), not a token: add it as an API key.",
            code="kind",
        )


def validate_priority(value: int) -> None:
    if not -MAX_PRIORITY <= value <= MAX_PRIORITY:
        raise ValidationError(f"Priority must be between {-MAX_PRIORITY} and {MAX_PRIORITY}")


def clean_priority(value: int) -> int:
    validate_priority(value)
    return value


def clean_api_key(value: str) -> str:
    value = value.strip()
    validate_api_key(value)
    return value


def clean_token(value: str, *, label: str = "Token") -> str:
    value = value.strip()
    validate_token(value, label=label)
    return value


def message(error: ValidationError) -> str:
    """The error's messages as one line."""
    return " ".join(error.messages)


def pydantic_check(clean: Callable[[str], str]) -> Callable[[Any], Any]:
    """`clean` for a pydantic AfterValidator: ValidationError becomes the ValueError it expects."""

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return clean(value)
        except ValidationError as error:
            raise ValueError(message(error)) from None

    return check


def _check_secret(value: str, *, label: str, length: tuple[int, int]) -> None:
    shortest, longest = length
    if not value:
        raise ValidationError(f"{label} must not be empty.", code="blank")
    if not shortest <= len(value) <= longest:
        raise ValidationError(
            f"{label} must be {shortest} to {longest} characters long; got {len(value)}.",
            code="length",
        )
    if not _VISIBLE_ASCII.fullmatch(value):
        raise ValidationError(
            f"{label} may only contain visible ASCII characters: no spaces, line breaks "
            "or other control characters (check what was pasted).",
            code="characters",
        )
