"""What a client key may do, as plain values the proxy checks without a query.

Loaded with the key set (access.clientkeys) and reloaded with it, so a new budget or
model rule takes effect within ACCOUNT_CACHE_SECONDS in every process.
"""

from dataclasses import dataclass

from access.models import WINDOW_SECONDS, ClientKey, KeyBudget, describe_budget


@dataclass(frozen=True, slots=True)
class Budget:
    metric: str  # KeyBudget.Metric
    window: str  # KeyBudget.Window
    limit: float

    @property
    def seconds(self) -> int:
        return WINDOW_SECONDS[self.window]

    def describe(self) -> str:
        return describe_budget(self.metric, self.window, self.limit)


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """A key's budgets and model rules; keys with neither have no policy at all."""

    key_id: int
    name: str
    budgets: tuple[Budget, ...] = ()
    allowed_models: frozenset[str] = frozenset()
    denied_models: frozenset[str] = frozenset()


def load_policies() -> dict[int, KeyPolicy]:
    """The policy of every live key that has a budget or a model rule (two queries)."""
    budgets: dict[int, list[Budget]] = {}
    live = KeyBudget.objects.filter(client_key__revoked_at=None)
    for key_id, metric, window, limit in live.values_list(
        "client_key_id", "metric", "window", "limit"
    ):
        budgets.setdefault(key_id, []).append(Budget(metric, window, float(limit)))
    policies = {}
    keys = ClientKey.objects.filter(revoked_at=None).values_list(
        "pk", "name", "allowed_models", "denied_models"
    )
    for key_id, name, allowed, denied in keys:
        if key_id in budgets or allowed or denied:
            policies[key_id] = KeyPolicy(
                key_id,
                name,
                tuple(budgets.get(key_id, ())),
                frozenset(allowed or ()),
                frozenset(denied or ()),
            )
    return policies
