"""What a name may be, for accounts and for API tokens and client keys alike.

A name goes into API paths (`/api/keys/NAME/...`), terminal tables and log lines: a
slash, a line break or an escape code in it does harm there. Raises Django's
ValidationError, as the model validators and forms expect.
"""

import re
import uuid

from django.core.exceptions import ValidationError

NAME_MAX_LENGTH = 100
_NAME = re.compile(r"[a-zA-Z0-9 \-_@.+]+")
# What the reports' filters call the requests of no account and of no client key: an
# account or key of that name would be counted together with them.
RESERVED = frozenset({"no_account", "no_key"})


def validate_name(value: str) -> None:
    """A trimmed, non-empty name of at most 100 letters, digits, spaces and - _ @ . +"""
    if not value.strip():
        raise ValidationError("Name must not be empty.", code="blank")
    if value != value.strip():
        raise ValidationError("Name must not start or end with spaces.", code="untrimmed")
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError(
            f"Name must be at most {NAME_MAX_LENGTH} characters.", code="max_length"
        )
    if not _NAME.fullmatch(value):
        raise ValidationError(
            "Name may only use letters, digits, spaces and - _ @ . +", code="invalid"
        )
    if _is_uuid(value):
        # The API finds an account by its id first: a name that reads as one would
        # address another account, or none.
        raise ValidationError("Name must not be an id (a UUID).", code="uuid")
    if value.lower() in RESERVED:
        raise ValidationError(
            f"Name '{value}' is reserved: the reports use it for requests without one.",
            code="reserved",
        )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def clean_name(value: str) -> str:
    """`value` trimmed; raises ValidationError unless it is then a valid name."""
    value = value.strip()
    validate_name(value)
    return value
