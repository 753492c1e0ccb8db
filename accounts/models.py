"""Account: one Claude credential in the pool, with its routing state and health.

Also the pending OAuth logins (OAuthSession) that become accounts.
"""

import uuid
from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from accounts import validation
from accounts.crypto import EncryptedTextField
from accounts.health import Health, HealthState, cooldown_delay

__all__ = ["Account", "Health", "HealthState", "OAuthSession", "cooldown_delay"]

TIERS = (1, 5, 20)


class Account(models.Model):
    class Kind(models.TextChoices):
        API_KEY = "api_key", "API key"
        OAUTH = "oauth", "OAuth (Claude Pro/Max)"
        CONSOLE = "console", "Console (OAuth-created API key)"
        # From `claude setup-token`: a bearer token valid for a year, with no refresh token.
        SETUP_TOKEN = "setup_token", "Long-lived OAuth token (setup-token)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(
        max_length=validation.NAME_MAX_LENGTH, unique=True, validators=[validation.validate_name]
    )
    provider = models.CharField(max_length=32, default="anthropic")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.API_KEY)

    # Credentials, encrypted at rest (accounts.crypto).
    api_key = EncryptedTextField(null=True, blank=True, validators=[validation.validate_api_key])
    access_token = EncryptedTextField(null=True, blank=True, validators=[validation.validate_token])
    refresh_token = EncryptedTextField(
        null=True, blank=True, validators=[validation.validate_token]
    )
    expires_at = models.DateTimeField(null=True, blank=True)

    tier = models.PositiveSmallIntegerField(default=1, choices=[(t, str(t)) for t in TIERS])
    # Lower is preferred when a new session picks an account.
    priority = models.IntegerField(default=0, validators=[validation.validate_priority])
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
    # Per-model weekly caps holding the account now: {"opus": {"until": ISO, "claim": ...}}.
    # The account still serves the other model families (accounts.health).
    model_limits = models.JSONField(default=dict, blank=True)
    # The account that holds the pool's sticky session, explicitly: after a failover the
    # serving account keeps the conversation (and its prompt cache) until it ends or the
    # account becomes unusable; a recovered account does not take it back.
    holds_session = models.BooleanField(default=False)
    # From the OAuth usage endpoint (accounts.usage_check), polled so an idle account
    # shows its windows too: per-model weekly use {"opus": {"utilization": 0.42,
    # "resets_at": ISO}}, when the last good reply was stored, and when the next poll is
    # due (moved forward by whichever process claims the poll, so only one polls).
    model_windows = models.JSONField(default=dict, blank=True)
    usage_checked_at = models.DateTimeField(null=True, blank=True)
    usage_poll_due_at = models.DateTimeField(null=True, blank=True)
    # Recent 5-hour window readings [[epoch seconds, 0..1], ...] for the burn-rate
    # forecast (accounts.forecast).
    five_hour_samples = models.JSONField(default=list, blank=True)

    # Health beyond pause and rate limit (see `health`). Set when the upstream
    # rejected the credential itself; cleared only by new credentials.
    reauth_reason = models.CharField(max_length=200, null=True, blank=True)
    # Upstream errors in a row (network, 5xx after retries, failed refreshes);
    # each one lengthens the next cooldown, a success resets it.
    failure_streak = models.PositiveSmallIntegerField(default=0)
    cooldown_until = models.DateTimeField(null=True, blank=True)
    cooldown_reason = models.CharField(max_length=200, null=True, blank=True)
    # When the admin (or the API, a command) last lifted its limits: a limit a worker
    # noted before this and writes after it is an old one (accounts.pool).
    limits_cleared_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Cross-process refresh lock: whoever sets this (from NULL or the past)
    # refreshes the token; the others wait and re-read (accounts.tokens).
    refresh_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "created_at"]
        indexes = [
            models.Index(fields=["priority", "created_at"], name="account_routing_order"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def uses_bearer(self) -> bool:
        """OAuth-style credential: sent as `Authorization: Bearer` with the oauth beta flag."""
        return self.kind in (self.Kind.OAUTH, self.Kind.SETUP_TOKEN)

    @property
    def can_refresh(self) -> bool:
        return self.kind == self.Kind.OAUTH and bool(self.refresh_token)

    def is_rate_limited(self, now: datetime) -> bool:
        return self.rate_limited_until is not None and self.rate_limited_until > now

    def is_cooling_down(self, now: datetime) -> bool:
        return self.cooldown_until is not None and self.cooldown_until > now

    def health(self, now: datetime) -> Health:
        """The account's state now; the first that applies wins.

        Each state has its exit: paused → resume; needs re-auth → new
        credentials; rate-limited and cooling down → the time passes.
        """
        if self.paused:
            return Health(HealthState.PAUSED)
        if self.reauth_reason:
            return Health(HealthState.NEEDS_REAUTH, self.reauth_reason)
        if self.is_rate_limited(now):
            return Health(HealthState.RATE_LIMITED, self._limit_named(), self.rate_limited_until)
        if self.is_cooling_down(now):
            return Health(HealthState.COOLING_DOWN, self.cooldown_reason or "", self.cooldown_until)
        return Health(HealthState.OK)

    def _limit_named(self) -> str:
        """Which limit the upstream's last answer named (it benched the account: none is
        sent to a benched one), e.g. "seven_day_opus limit"; "" when it named none (an
        API key's 429, a broken header)."""
        if self.rate_limit_claim:
            return f"{self.rate_limit_claim} limit"
        if (self.seven_day_utilization or 0) >= 1:
            return "7-day window full"
        if (self.five_hour_utilization or 0) >= 1:
            return "5-hour window full"
        return ""

    def is_usable(self, now: datetime) -> bool:
        return self.health(now).usable

    def token_status(self, now: datetime) -> str:
        """'valid', 'expired', 'long-lived' or '-' (not a token account), for lists."""
        if not self.uses_bearer:
            return "-"
        if self.expires_at is None:
            return "long-lived" if self.kind == self.Kind.SETUP_TOKEN else "expired"
        return "valid" if self.expires_at > now else "expired"


# As ccflare (docs/compatibility.md): a login not finished is forgotten after 10 minutes.
OAUTH_SESSION_LIFETIME = timedelta(minutes=10)


def default_session_expiry() -> datetime:
    return timezone.now() + OAUTH_SESSION_LIFETIME


class OAuthSession(models.Model):
    """A login started (authorize URL handed out) and waiting for its pasted code."""

    class Mode(models.TextChoices):
        MAX = "max", "Claude Max"
        CONSOLE = "console", "Claude Console"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account_name = models.CharField(max_length=100)
    # The account a login started for an existing one replaces the credentials of, whatever
    # it is called by the end (a login bound to the name gave its tokens to whichever
    # account had the name then); None for a new account. Deleted meanwhile: the login goes.
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE)
    # The PKCE secret: whoever holds it can finish the login, so encrypted too.
    verifier = EncryptedTextField()
    # Sent in the authorize URL and echoed back after '#': proves the pasted
    # code belongs to this login. Random, and separate from the verifier.
    state = models.CharField(max_length=64)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.MAX)
    # None: keep the existing account's value, or the default for a new one.
    tier = models.PositiveSmallIntegerField(null=True, blank=True)
    priority = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=default_session_expiry, db_index=True)

    def __str__(self) -> str:
        return f"OAuth login for {self.account_name} ({self.mode})"
