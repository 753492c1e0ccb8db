"""Setting a client key's budgets and model rules: one set of checks for every entry point.

The admin, the API and `manage.py client_keys` all come through here. The proxy reads
the result with the key set (access.policy), within ACCOUNT_CACHE_SECONDS.
"""

import re
from decimal import Decimal, InvalidOperation

from access.credentials import AccessError
from access.models import POOL_WINDOWS, ClientKey, KeyBudget

# A model family is matched as a part of the model's name: "opus", "sonnet", "haiku-4".
_FAMILY = re.compile(r"^[a-z0-9][a-z0-9.\-]{0,39}$")
MAX_LIMIT = Decimal("1e9")
# A budget's limit as stored (KeyBudget.limit: four decimal places).
_STORED = Decimal("0.0001")
# Model families a key's rule may list, at most (the API's schema says the same).
MAX_FAMILIES = 20


class KeyNotFound(AccessError):
    pass


def live_key(name: str) -> ClientKey:
    key = ClientKey.objects.filter(name=name, revoked_at=None).first()
    if key is None:
        raise KeyNotFound(f"No active client key named '{name}'")
    return key


def set_budget(*, key: ClientKey, metric: str, window: str, limit: object) -> KeyBudget:
    """Add the key's budget for this metric and window, or change its limit."""
    amount = validate_budget(metric=metric, window=window, limit=limit)
    budget, _ = KeyBudget.objects.update_or_create(
        client_key=key, metric=metric, window=window, defaults={"limit": amount}
    )
    return budget


def remove_budget(*, key: ClientKey, metric: str, window: str) -> None:
    deleted, _ = KeyBudget.objects.filter(client_key=key, metric=metric, window=window).delete()
    if not deleted:
        raise AccessError(f"Client key '{key.name}' has no {metric} budget per {window}")


def validate_budget(*, metric: str, window: str, limit: object) -> Decimal:
    """The limit as a Decimal; AccessError with the reason when the budget makes no sense."""
    if metric not in KeyBudget.Metric.values:
        raise AccessError(f"Unknown budget metric '{metric}'; one of {_listed(KeyBudget.Metric)}")
    if window not in KeyBudget.Window.values:
        raise AccessError(f"Unknown budget window '{window}'; one of {_listed(KeyBudget.Window)}")
    if metric == KeyBudget.Metric.POOL_SHARE and window not in POOL_WINDOWS:
        raise AccessError("A share of the pool is measured over 5h or 7d (Anthropic's windows)")
    try:
        amount = Decimal(str(limit))
    except InvalidOperation:
        raise AccessError(f"Budget limit must be a number, not '{limit}'") from None
    # Compared as stored (to 0.0001): a limit that would be stored as 0 is none.
    if not amount.is_finite() or not 0 < amount <= MAX_LIMIT or amount.quantize(_STORED) <= 0:
        raise AccessError("Budget limit must be at least 0.0001 (and at most 1e9)")
    if metric == KeyBudget.Metric.POOL_SHARE and amount > 100:
        raise AccessError("A share of the pool is a percentage, at most 100")
    if (
        metric in (KeyBudget.Metric.REQUESTS, KeyBudget.Metric.TOKENS)
        and amount != amount.to_integral()
    ):
        raise AccessError(f"A {metric} budget is a whole number")
    return amount.quantize(_STORED)


def set_model_rules(*, key: ClientKey, allowed: list[str], denied: list[str]) -> ClientKey:
    """Replace the key's model rules; empty lists remove them."""
    key.allowed_models = validate_families(allowed)
    key.denied_models = validate_families(denied)
    check_no_overlap(key.allowed_models, key.denied_models)
    key.save(update_fields=["allowed_models", "denied_models"])
    return key


def validate_families(families: list[str]) -> list[str]:
    cleaned = sorted({f.strip().lower() for f in families if f.strip()})
    if len(cleaned) > MAX_FAMILIES:
        raise AccessError(f"A rule lists {MAX_FAMILIES} model families at most")
    for family in cleaned:
        if not _FAMILY.match(family):
            raise AccessError(
                f"'{family}' is not a model family (letters, digits, '-' and '.', e.g. opus)"
            )
    return cleaned


def check_no_overlap(allowed: list[str], denied: list[str]) -> None:
    """A family both allowed and denied is a mistake to say, not a rule to keep."""
    both = sorted(set(allowed) & set(denied))
    if both:
        raise AccessError(f"Allowed and denied at once: {', '.join(both)}")


def _listed(choices: type[KeyBudget.Metric] | type[KeyBudget.Window]) -> str:
    return ", ".join(choices.values)
