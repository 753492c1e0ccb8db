"""The rules for account names and credentials (accounts.validation), pure: no database."""

import pytest
from django.core.exceptions import ValidationError

from accounts import validation

API_KEY = "sk-ant-api03-" + "a" * 95
TOKEN = "sk-ant-oat01-" + "b" * 95


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [("work", "work"), ("  Work Max 20x  ", "Work Max 20x"), ("me+1@x.io", "me+1@x.io")],
)
def test_clean_name_trims_a_valid_name(value: str, cleaned: str) -> None:
    assert validation.clean_name(value) == cleaned


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Name must not be empty."),
        ("   ", "Name must not be empty."),
        ("\t\n", "Name must not be empty."),
        ("x" * 101, "Name must be at most 100 characters."),
        ("a\nb", "Name may only use letters, digits"),
        ("a\tb", "Name may only use letters, digits"),
        ("a\x00b", "Name may only use letters, digits"),
        ("bad/name", "Name may only use letters, digits"),
        ("émile", "Name may only use letters, digits"),
    ],
)
def test_clean_name_refuses(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validation.clean_name(value)


def test_validate_name_refuses_untrimmed_values() -> None:
    # The model's own check, for code that skips the input cleaning.
    with pytest.raises(ValidationError, match="must not start or end with spaces"):
        validation.validate_name(" work")


def test_clean_api_key_trims_a_pasted_key() -> None:
    assert validation.clean_api_key(f"  {API_KEY}\r\n") == API_KEY


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "API key must not be empty."),
        ("\n", "API key must not be empty."),
        ("x", "API key must be 20 to 512 characters long; got 1."),
        ("k" * 1_500_000, "API key must be 20 to 512 characters long; got 1500000."),
        (API_KEY[:50] + "\r\n" + API_KEY[50:], "API key may only contain visible ASCII"),
        (API_KEY[:50] + "\x00" + API_KEY[50:], "API key may only contain visible ASCII"),
        (API_KEY[:50] + " " + API_KEY[50:], "API key may only contain visible ASCII"),
        (API_KEY + "é", "API key may only contain visible ASCII"),
    ],
)
def test_clean_api_key_refuses(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validation.clean_api_key(value)


@pytest.mark.parametrize(
    "value",
    ["x", "t" * 5000, TOKEN + "\n" + TOKEN, TOKEN[:40] + "\x7f" + TOKEN[40:], TOKEN + "\x1b[0m"],
)
def test_clean_token_refuses(value: str) -> None:
    with pytest.raises(ValidationError, match="Access token"):
        validation.clean_token(value, label="Access token")


def test_clean_token_takes_a_long_lived_token() -> None:
    assert validation.clean_token(f"{TOKEN}\n") == TOKEN
