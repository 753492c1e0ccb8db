"""Account: one Claude credential in the pool, with its routing and rate-limit state."""

import uuid
from datetime import datetime

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from accounts.crypto import EncryptedTextField

ACCOUNT_NAME_VALIDATOR = RegexValidator(
    r"^[a-zA-Z0-9\s\-_@.+]+$",
    "Use letters, digits, spaces and - _ @ . + only.",
)
TIERS = (1, 5, 20)


class Account(models.Model):
    class Kind(models.TextChoices):
        API_KEY = "api_key", "API key"
        OAUTH = "oauth", "OAuth (Claude Pro/Max)"
        CONSOLE = "console", "Console (OAuth-created API key)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True, validators=[ACCOUNT_NAME_VALIDATOR])
    provider = models.CharField(max_length=32, default="anthropic")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.API_KEY)

    # Credentials, encrypted at rest (accounts.crypto).
    api_key = EncryptedTextField(null=True, blank=True)
    access_token = EncryptedTextField(null=True, blank=True)
    refresh_token = EncryptedTextField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    tier = models.PositiveSmallIntegerField(default=1, choices=[(t, str(t)) for t in TIERS])
    # Lower is preferred when a new session picks an account.
    priority = models.IntegerField(default=0)
    paused = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    request_count = models.PositiveIntegerField(default=0)
    total_requests = models.PositiveIntegerField(default=0)
    session_start = models.DateTimeField(null=True, blank=True)
    session_request_count = models.PositiveIntegerField(default=0)

    # Hard block: the account is skipped until this moment.
    rate_limited_until = models.DateTimeField(null=True, blank=True)
    # Latest unified rate-limit headers seen on this account's responses.
    rate_limit_status = models.CharField(max_length=32, null=True, blank=True)
    rate_limit_reset = models.DateTimeField(null=True, blank=True)
    rate_limit_remaining = models.IntegerField(null=True, blank=True)
    rate_limit_claim = models.CharField(max_length=32, null=True, blank=True)
    five_hour_utilization = models.FloatField(null=True, blank=True)
    five_hour_reset = models.DateTimeField(null=True, blank=True)
    seven_day_utilization = models.FloatField(null=True, blank=True)
    seven_day_reset = models.DateTimeField(null=True, blank=True)
    overage_status = models.CharField(max_length=32, null=True, blank=True)

    class Meta:
        ordering = ["priority", "created_at"]
        indexes = [
            models.Index(fields=["priority", "created_at"], name="account_routing_order"),
        ]

    def __str__(self) -> str:
        return self.name

    def is_rate_limited(self, now: datetime) -> bool:
        return self.rate_limited_until is not None and self.rate_limited_until > now

    def is_usable(self, now: datetime) -> bool:
        return not self.paused and not self.is_rate_limited(now)
