"""Recorded traffic (Request, RequestPayload) and the price table that turns usage into cost."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from lib import ids


class Request(models.Model):
    """One client request through the proxy, recorded exactly once when it ends."""

    class Terminal(models.TextChoices):
        COMPLETE = "complete"
        ERROR = "error"  # went upstream and failed there (or the proxy failed)
        CLIENT_CANCELLED = "client_cancelled"
        TRUNCATED = "truncated"  # a stream that ended without its final event
        REJECTED = "rejected"  # refused by the proxy, nothing went upstream

    # Time-ordered: rows are inserted at the request rate (lib/ids.py).
    id = models.UUIDField(primary_key=True, default=ids.uuid7, editable=False)
    timestamp = models.DateTimeField(default=timezone.now)  # when the request started
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=512)
    # No FK constraint: history keeps the id of an account that was deleted since.
    # No index of its own: request_account_ts begins with it, and every index is one
    # more B-tree the recorder writes per row.
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="requests",
    )
    status_code = models.IntegerField(null=True)  # what the client got
    success = models.BooleanField(default=False)
    error_message = models.TextField(null=True, blank=True)
    terminal_state = models.CharField(
        max_length=20, choices=Terminal.choices, default=Terminal.COMPLETE
    )
    is_stream = models.BooleanField(default=False)
    response_time_ms = models.IntegerField(null=True)
    time_to_first_token_ms = models.IntegerField(null=True, blank=True)
    failover_attempts = models.IntegerField(default=0)
    # Candidates in order, why each skipped one was skipped, and which one served.
    routing_trace = models.JSONField(default=list, blank=True)

    model = models.CharField(max_length=128, null=True, blank=True)
    input_tokens = models.IntegerField(default=0)
    cache_read_input_tokens = models.IntegerField(default=0)
    cache_creation_input_tokens = models.IntegerField(default=0)
    cache_creation_5m_tokens = models.IntegerField(default=0)
    cache_creation_1h_tokens = models.IntegerField(default=0)
    output_tokens = models.IntegerField(default=0)
    prompt_tokens = models.IntegerField(default=0)
    completion_tokens = models.IntegerField(default=0)
    total_tokens = models.IntegerField(default=0)
    # NULL when nothing is billable or the model has no price (then `unpriced`).
    cost_usd = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    unpriced = models.BooleanField(default=False)
    output_tokens_per_second = models.FloatField(null=True, blank=True)
    # The Claude Code sub-agent detected in the prompt (agents app), and the model the
    # client asked for when it was changed for that agent (`model` is what answered).
    agent_used = models.CharField(max_length=128, null=True, blank=True)
    original_model = models.CharField(max_length=128, null=True, blank=True)
    # The client key that sent the request (None while client keys are off), so
    # usage can be split per machine or person. No FK constraint, as for accounts, nor
    # an index of its own: request_key_ts begins with it.
    client_key = models.ForeignKey(
        "access.ClientKey",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="requests",
    )

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(fields=["-timestamp"], name="request_timestamp"),
            models.Index(fields=["account", "-timestamp"], name="request_account_ts"),
            models.Index(fields=["model", "-timestamp"], name="request_model_ts"),
            # A key's requests in a window (budgets, every second; the key filters): on
            # client_key_id alone SQLite read all of the key's history to find them.
            models.Index(fields=["client_key", "-timestamp"], name="request_key_ts"),
            models.Index(fields=["success", "-timestamp"], name="request_success_ts"),
            models.Index(
                fields=["model"], condition=models.Q(unpriced=True), name="request_unpriced"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code}"


class RequestPayload(models.Model):
    """Captured headers and bodies of a request, credentials redacted, bodies capped."""

    request = models.OneToOneField(
        Request, primary_key=True, on_delete=models.CASCADE, related_name="payload"
    )
    # Shape of ccflare's payload JSON: {request:{headers, body}, response:{status, headers,
    # body}, meta:{...}}, bodies base64; meta.truncated says whether a body was cut.
    data = models.JSONField()

    def __str__(self) -> str:
        return f"payload of {self.request_id}"


def usd_per_million() -> models.DecimalField:
    """A price column: never below 0 (a negative price took tokens off every cost)."""
    return models.DecimalField(
        max_digits=12, decimal_places=6, validators=[MinValueValidator(Decimal(0))]
    )


class ModelPrice(models.Model):
    """USD per million tokens for one model, from a date on, for one prompt-length band."""

    model = models.CharField(max_length=128)
    effective_from = models.DateField(default=timezone.now)
    # The band applies when the prompt (input + cache reads + cache writes) is
    # over this many tokens; 0 is the base band.
    prompt_tokens_over = models.PositiveIntegerField(default=0)
    input_usd = usd_per_million()
    cache_write_5m_usd = usd_per_million()
    cache_write_1h_usd = usd_per_million()
    cache_read_usd = usd_per_million()
    output_usd = usd_per_million()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["model", "-effective_from", "prompt_tokens_over"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "effective_from", "prompt_tokens_over"],
                name="one_price_per_model_date_band",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model} from {self.effective_from}"


class RuntimeSetting(models.Model):
    """A setting changed at run time through the API or admin (retention days, strategy).

    Precedence is environment, then this table, then the default in settings.py;
    only values someone chose are stored, never defaults (docs/compatibility.md). One
    row is no setting: `history_cleared`, the mark analytics.reporting.report_cache
    rewrites when the history is cleared, for every process to see.
    """

    key = models.CharField(max_length=64, primary_key=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key}={self.value!r}"
