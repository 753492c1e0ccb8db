"""/api/keys: client keys with their usage, budgets and model rules; setting those.

Keys are created and revoked with `manage.py` or the admin (the secret is shown once);
here they are read and given limits. The rules are `access.keyrules`'.
"""

from django.http import HttpRequest
from ninja import Router

from access import keyrules
from access.models import ClientKey
from analytics.reporting import key_report
from analytics.schemas import BudgetIn, ModelRulesIn

router = Router(tags=["keys"])


@router.get("", operation_id="list_client_keys")
def list_keys(request: HttpRequest) -> list[dict]:
    """Live keys: model rules, budgets with their use now, share of the pool's 5h window."""
    return key_report.keys_with_budgets()


@router.put("/{name}/budgets", operation_id="set_client_key_budget")
def set_budget(request: HttpRequest, name: str, body: BudgetIn) -> dict:
    """Add a budget, or change the limit of the key's budget for that metric and window."""
    key = keyrules.live_key(name)
    keyrules.set_budget(key=key, metric=body.metric, window=body.window, limit=body.limit)
    return _key(key)


@router.delete("/{name}/budgets/{metric}/{window}", operation_id="remove_client_key_budget")
def remove_budget(request: HttpRequest, name: str, metric: str, window: str) -> dict:
    key = keyrules.live_key(name)
    keyrules.remove_budget(key=key, metric=metric, window=window)
    return _key(key)


@router.put("/{name}/models", operation_id="set_client_key_models")
def set_models(request: HttpRequest, name: str, body: ModelRulesIn) -> dict:
    """Replace the key's model rules: families it may use (allowed) or may not (denied)."""
    key = keyrules.live_key(name)
    keyrules.set_model_rules(key=key, allowed=body.allowed, denied=body.denied)
    return _key(key)


def _key(key: ClientKey) -> dict:
    """The changed key as the list shows it; 404 when it was revoked meanwhile: the change
    went to a key no client can use, and a new key of that name is not the one changed."""
    found = [each for each in key_report.keys_with_budgets(name=key.name) if each["id"] == key.pk]
    if not found:
        raise keyrules.KeyNotFound(f"Client key '{key.name}' was revoked meanwhile")
    return found[0]
