"""A client key's rules on the /v1/ path: its model rules (403), then its budgets (429).

The handler calls `check` once per request whose key has a policy (most keys have none
and pay nothing). A refusal names the key's own rule, never an account's limit, and is
recorded like any request the proxy answers itself.
"""

from dataclasses import dataclass, replace

from access.policy import KeyPolicy
from proxy import sniff
from proxy.budgets import Verdict, tracker


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    error_type: str
    message: str
    headers: list[tuple[bytes, bytes]]
    # The model the request asked for: no answer will name it, so it is recorded from here.
    model: str | None = None


async def check(policy: KeyPolicy, request_id: str, body: bytes) -> Refusal | None:
    """None when the key may send this request (it then counts against its budgets)."""
    if policy.allowed_models or policy.denied_models:
        refusal = _model_rules(policy, body)
        if refusal is not None:
            return refusal
    if not policy.budgets:
        return None
    verdict = await tracker.admit(policy, request_id)
    if verdict is None:
        return None
    return replace(budget_refusal(policy, verdict), model=sniff.request_model(body))


def _model_rules(policy: KeyPolicy, body: bytes) -> Refusal | None:
    """The key's model rules, on every model the body names (read by a JSON parser)."""
    models = sniff.models_named(body)
    if models is None:
        message = (
            f"Client key '{policy.name}' has model rules, and this request's body "
            "could not be read as JSON to check them"
        )
        return Refusal(400, "invalid_request_error", message, [])
    for model in models:
        refusal = model_refusal(policy, model)
        if refusal is not None:
            return replace(refusal, model=model)
    return None


def model_refusal(policy: KeyPolicy, model: str | None) -> Refusal | None:
    """A 403 when the key's rules exclude this model; a request naming none passes."""
    if model is None:
        return None
    name = model.lower()
    denied = sorted(f for f in policy.denied_models if f in name)
    allowed = not policy.allowed_models or any(f in name for f in policy.allowed_models)
    if not denied and allowed:
        return None
    why = (
        f"{denied[0]} models are denied to it"
        if denied
        else f"it may only use {', '.join(sorted(policy.allowed_models))} models"
    )
    message = f"Client key '{policy.name}' may not use model {model}: {why}"
    return Refusal(403, "permission_error", message, [])


def budget_refusal(policy: KeyPolicy, verdict: Verdict) -> Refusal:
    budget = verdict.budget
    message = (
        f"Client key '{policy.name}' is over its budget of {budget.describe()} "
        f"(used {_amount(budget.metric, verdict.used)}); "
        f"it frees up in {verdict.retry_after} s"
    )
    headers = [(b"retry-after", str(verdict.retry_after).encode())]
    return Refusal(429, "rate_limit_error", message, headers)


def _amount(metric: str, used: float) -> str:
    if metric == "cost":
        return f"${used:.4f}"
    if metric == "pool_share":
        return f"{used:.1f}%"
    return f"{used:.0f}"
