"""Who may use ccflare: API tokens (for /api/ and /metrics) and client keys (for /v1/).

Both are stored as a SHA-256 hash plus a short display prefix: the secret itself is
shown once, when it is created, and never again. SHA-256 without a salt is enough
here because the secrets are 256 random bits, not passwords a dictionary could guess.
"""

import hashlib
import secrets
from decimal import Decimal

from django.db import models
from django.utils import timezone

API_TOKEN_PREFIX = "cct_"
CLIENT_KEY_PREFIX = "cck_"
# How much of the secret is kept in clear to tell keys apart in lists.
DISPLAY_CHARS = 10


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


class Credential(models.Model):
    """Fields and behaviour shared by API tokens and client keys."""

    name = models.CharField(max_length=100)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    display = models.CharField(max_length=20, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def set_secret(self, secret: str) -> None:
        self.secret_hash = hash_secret(secret)
        self.display = secret[:DISPLAY_CHARS] + "…"


class ApiToken(Credential):
    """A bearer token for the HTTP API and /metrics (scripts, status lines, scrapers)."""

    class Meta(Credential.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(revoked_at=None), name="one_live_token_per_name"
            )
        ]


class ClientKey(Credential):
    """A key a client sends to /v1/ (x-api-key or Bearer); each request records which one.

    Optional model rules: families (opus, sonnet, haiku, ...) this key may use, or may not;
    empty means no rule. A request for a refused family gets a 403 from the proxy.
    """

    allowed_models = models.JSONField(default=list, blank=True)
    denied_models = models.JSONField(default=list, blank=True)

    class Meta(Credential.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(revoked_at=None), name="one_live_key_per_name"
            )
        ]


class KeyBudget(models.Model):
    """A limit on one client key's use over a rolling window; past it the proxy answers 429.

    `requests`, `tokens` and `cost` (USD) count the key's recorded requests in the window.
    `pool_share` is a percentage of the pool's 5-hour or 7-day capacity: the key's part of
    the pool's recent use (by cost, or tokens when nothing is priced) times the accounts'
    mean utilisation from Anthropic's rate-limit headers.
    """

    class Metric(models.TextChoices):
        REQUESTS = "requests"
        TOKENS = "tokens"
        COST = "cost", "cost (USD)"
        POOL_SHARE = "pool_share", "share of the pool (%)"

    class Window(models.TextChoices):
        HOUR = "1h", "hour"
        FIVE_HOURS = "5h", "5 hours"
        DAY = "1d", "day"
        WEEK = "7d", "week"
        MONTH = "30d", "month (30 days)"

    client_key = models.ForeignKey(ClientKey, on_delete=models.CASCADE, related_name="budgets")
    metric = models.CharField(max_length=16, choices=Metric.choices)
    window = models.CharField(max_length=4, choices=Window.choices)
    limit = models.DecimalField(max_digits=14, decimal_places=4)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["client_key", "metric", "window"]
        constraints = [
            models.UniqueConstraint(
                fields=["client_key", "metric", "window"], name="one_budget_per_metric_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client_key}: {describe_budget(self.metric, self.window, self.limit)}"


WINDOW_SECONDS = {"1h": 3600, "5h": 5 * 3600, "1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
# The pool's capacity is measured by Anthropic's windows, which are 5 hours and 7 days.
POOL_WINDOWS = ("5h", "7d")


def describe_budget(metric: str, window: str, limit: Decimal | float) -> str:
    """'3 requests per hour', '40% of the pool's 5-hour window': for messages and lists."""
    amount = f"{Decimal(str(limit)):f}"
    if "." in amount:
        amount = amount.rstrip("0").rstrip(".")
    if metric == KeyBudget.Metric.POOL_SHARE:
        span = "5-hour" if window == "5h" else "7-day"
        return f"{amount}% of the pool's {span} window"
    per = KeyBudget.Window(window).label
    if metric == KeyBudget.Metric.COST:
        return f"${amount} per {per}"
    return f"{amount} {metric} per {per}"
