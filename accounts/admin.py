"""The accounts admin: the everyday console (health, tokens, windows), actions, the Claude login.

Secrets are never rendered: credentials show masked, and new ones go in
write-only fields. Changes reach the proxy through its account snapshot, which
re-reads the database every ACCOUNT_CACHE_SECONDS (at once in this process).
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import date as format_date
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from accounts import crypto, forecast, signals, tokens, usage_check, usage_reply, validation
from accounts import health as accounts_health
from accounts.admin_login import ClaudeLoginMixin
from accounts.models import Account, HealthState
from accounts.pool import pool

_SECRET_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
_TIME = "Y-m-d H:i T"


def _when(moment: datetime | None) -> str:
    return format_date(timezone.localtime(moment), _TIME) if moment else "—"


class HealthFilter(admin.SimpleListFilter):
    """Filter by health state, with the same precedence as Account.health."""

    title = "health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return HealthState.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        if value not in HealthState.values:
            # As the admin's own filters do with a value they do not know: the list
            # unfiltered, with its "?e=1" notice.
            raise IncorrectLookupParameters(f"unknown health state {value!r}")
        now = timezone.now()
        reauth = Q(reauth_reason__isnull=False) & ~Q(reauth_reason="")
        limited = Q(rate_limited_until__gt=now)
        cooling = Q(cooldown_until__gt=now)
        active = Q(paused=False) & ~reauth
        conditions = {
            HealthState.PAUSED: Q(paused=True),
            HealthState.NEEDS_REAUTH: Q(paused=False) & reauth,
            HealthState.RATE_LIMITED: active & limited,
            HealthState.COOLING_DOWN: active & ~limited & cooling,
            HealthState.OK: active & ~limited & ~cooling,
        }
        return queryset.filter(conditions[HealthState(value)])


class AccountForm(forms.ModelForm):
    """The account's settings, plus write-only fields that replace its credentials."""

    new_secret = forms.CharField(
        required=False,
        widget=_SECRET_WIDGET,
        label="New API key or token",
        help_text="Write-only. API-key and Console accounts: the API key. Long-lived token "
        "accounts: the token from `claude setup-token`. OAuth accounts: an access token "
        "(optional with a refresh token). Leave empty to keep the current credential.",
    )
    new_refresh_token = forms.CharField(
        required=False,
        widget=_SECRET_WIDGET,
        label="New refresh token",
        help_text="Write-only; OAuth (Claude Pro/Max) accounts only. Easier: use "
        "“Add Claude account” with this account's name to log in again.",
    )

    class Meta:
        model = Account
        fields = ["name", "kind", "tier", "priority", "paused"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind_field = self.fields.get("kind")
        if isinstance(kind_field, forms.ChoiceField):
            # The two OAuth logins have their own page; here only pasted credentials.
            kind_field.choices = [
                (k, label) for k, label in Account.Kind.choices if k != Account.Kind.CONSOLE
            ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("kind") or self.instance.kind
        # An OAuth account can start from a refresh token alone; others need the secret.
        has_credential = data.get("new_secret") or (
            kind == Account.Kind.OAUTH and data.get("new_refresh_token")
        )
        if self.instance._state.adding and not has_credential:
            raise forms.ValidationError("Enter the API key or token of the new account.")
        if data.get("new_refresh_token") and kind != Account.Kind.OAUTH:
            self.add_error("new_refresh_token", "Only OAuth accounts have a refresh token.")
        self._check_secret("new_secret", _secret_rule(kind))
        self._check_secret("new_refresh_token", validation.validate_token)
        return data

    def _check_secret(self, field: str, rule: Callable[[str], None]) -> None:
        """The rule every input applies to this credential (accounts.validation)."""
        value = self.cleaned_data.get(field)
        if not value:
            return
        try:
            rule(value)
        except forms.ValidationError as error:
            self.add_error(field, error)

    def credential_fields(self) -> dict[str, object]:
        """The model fields to write for the credentials entered; empty when none were."""
        secret = self.cleaned_data.get("new_secret")
        refresh = self.cleaned_data.get("new_refresh_token")
        if not secret and not refresh:
            return {}
        kind = self.instance.kind
        if kind == Account.Kind.OAUTH:
            # No expiry known: the first request refreshes, which also proves the tokens.
            fields = {"access_token": secret or None, "expires_at": None}
            return fields | ({"refresh_token": refresh} if refresh else {})
        if kind == Account.Kind.SETUP_TOKEN:
            return {"access_token": secret, "expires_at": None}
        return {"api_key": secret}


@admin.register(Account)
class AccountAdmin(ClaudeLoginMixin, admin.ModelAdmin):
    form = AccountForm
    list_display = (
        "name",
        "kind_label",
        "tier",
        "priority",
        "health_label",
        "token_label",
        "session_label",
        "request_count",
        "five_hour_label",
        "seven_day_label",
    )
    list_filter = (HealthFilter, "kind", "tier", "paused")
    search_fields = ("name",)
    actions = ("pause", "resume", "clear_rate_limit", "refresh_token_now", "check_usage_now")
    readonly_fields = (
        "credential_label",
        "health_label",
        "token_label",
        "five_hour_label",
        "seven_day_label",
        "model_windows_label",
        "usage_checked_at",
        "rate_limit_status",
        "rate_limit_claim",
        "overage_status",
        "session_start",
        "session_request_count",
        "request_count",
        "total_requests",
        "last_used",
        "created_at",
    )

    def get_fieldsets(self, request: HttpRequest, obj: Account | None = None) -> list:
        credentials = ("new_secret", "new_refresh_token")
        if obj is None:
            return [
                (None, {"fields": ("name", "kind", "tier", "priority", "paused", *credentials)})
            ]
        return [
            (None, {"fields": ("name", "kind", "tier", "priority", "paused")}),
            ("Credentials", {"fields": ("credential_label", *credentials)}),
            ("Health", {"fields": ("health_label", "token_label")}),
            (
                "Rate limits",
                {
                    "fields": (
                        "five_hour_label",
                        "seven_day_label",
                        "model_windows_label",
                        "usage_checked_at",
                        "rate_limit_status",
                        "rate_limit_claim",
                        "overage_status",
                    )
                },
            ),
            (
                "Usage",
                {
                    "fields": (
                        "session_start",
                        "session_request_count",
                        "request_count",
                        "total_requests",
                        "last_used",
                        "created_at",
                    )
                },
            ),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Account | None = None) -> tuple:
        # The kind follows the credentials: change it by adding new ones (login page).
        return self.readonly_fields if obj is None else ("kind", *self.readonly_fields)

    # Error reports (DEBUG pages, admin e-mails) must not show a pasted secret.
    @method_decorator(sensitive_post_parameters("new_secret", "new_refresh_token"))
    def changeform_view(self, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(*args, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: Account, form: AccountForm, change: bool
    ) -> None:
        """Write only what the form changed: the proxy updates counters and limits meanwhile."""
        credentials = form.credential_fields()
        if credentials:
            credentials |= accounts_health.new_credentials()
        for name, value in credentials.items():
            setattr(obj, name, value)
        if change:
            edited = [name for name in form.changed_data if name in AccountForm.Meta.fields]
            obj.save(update_fields=[*edited, *credentials])
        else:
            obj.save()
        pool.invalidate()

    # Columns -------------------------------------------------------------------------------

    @admin.display(description="kind", ordering="kind")
    def kind_label(self, account: Account) -> str:
        return account.get_kind_display()

    @admin.display(description="health")
    def health_label(self, account: Account) -> str:
        health = account.health(timezone.now())
        text = health.state.label
        if health.until is not None:
            text += f" until {_when(health.until)}"
        text = f"{text}: {health.reason}" if health.reason else text
        limits = accounts_health.active_family_limits(account, timezone.now())
        caps = "; ".join(f"{f} limited until {_when(u)}" for f, u in sorted(limits.items()))
        return f"{text} ({caps})" if caps else text

    @admin.display(description="token", ordering="expires_at")
    def token_label(self, account: Account) -> str:
        status = account.token_status(timezone.now())
        if status in ("valid", "expired") and account.expires_at:
            return f"{status} (expires {_when(account.expires_at)})"
        return status

    @admin.display(description="session", ordering="session_start")
    def session_label(self, account: Account) -> str:
        if account.session_start is None or not account.holds_session:
            return "—"
        return f"{_when(account.session_start)}, {account.session_request_count} reqs"

    @admin.display(description="5-hour window")
    def five_hour_label(self, account: Account) -> str:
        text = _window(account.five_hour_utilization, account.five_hour_reset)
        full = forecast.account_full_at(account, now=timezone.now())
        return f"{text}; full at {_when(full)} at the current pace" if full else text

    @admin.display(description="7-day window")
    def seven_day_label(self, account: Account) -> str:
        return _window(account.seven_day_utilization, account.seven_day_reset)

    @admin.display(description="per-model weekly")
    def model_windows_label(self, account: Account) -> str:
        windows = usage_reply.stored_models(account.model_windows)
        parts = [f"{f} {_window(w.utilization, w.resets_at)}" for f, w in windows.items()]
        return "; ".join(parts) or "—"

    @admin.display(description="credential")
    def credential_label(self, account: Account) -> str:
        if account.uses_bearer:
            refresh = "with refresh token" if account.refresh_token else "no refresh token"
            return f"token {crypto.mask(account.access_token) or '—'} ({refresh})"
        return f"API key {crypto.mask(account.api_key) or '—'}"

    # Actions -------------------------------------------------------------------------------

    @admin.action(description="Pause selected accounts")
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_paused(request, queryset, paused=True)

    @admin.action(description="Resume selected accounts")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_paused(request, queryset, paused=False)

    def _set_paused(self, request: HttpRequest, queryset: QuerySet, *, paused: bool) -> None:
        """Only the accounts not in that state yet are changed, and counted (it said
        "1 account(s) resumed" of one that was not paused; the API answers 400)."""
        already = queryset.filter(paused=paused).count()
        verb = "paused" if paused else "resumed"
        self._update(request, queryset.filter(paused=not paused), verb, paused=paused)
        if already:
            state = "paused" if paused else "not paused"
            self.message_user(request, f"{already} account(s) already {state}: left as they were.")

    @admin.action(description="Clear rate limit and cooldown")
    def clear_rate_limit(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._update(request, queryset, "cleared", **accounts_health.cleared())

    @admin.action(description="Refresh OAuth token now")
    def refresh_token_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each_at_once(
            request,
            queryset,
            able=lambda account: account.can_refresh,
            unable="no refresh token to use",
            call=lambda account: tokens.refresh(account, reason="admin", force=True),
            failure=tokens.RefreshError,
            done=lambda account: f"token refreshed, expires {_when(account.expires_at)}",
        )
        pool.invalidate()

    @admin.action(description="Check usage now")
    def check_usage_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each_at_once(
            request,
            queryset,
            able=usage_check.is_checkable,
            unable="no usage endpoint (not a Claude Pro/Max login)",
            call=usage_check.check,
            failure=usage_check.UsageCheckError,
            done=lambda account: f"5-hour window {self.five_hour_label(account)}",
        )

    def _each_at_once(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        able: Callable[[Account], bool],
        unable: str,
        call: Callable[[Account], Awaitable[object]],
        failure: type[Exception],
        done: Callable[[Account], str],
    ) -> None:
        """`call` for every chosen account that is `able`, all at once, and one message each.

        One after another, a few slow answers (an endpoint's 15 s each) took the page past
        its deadline (ANSWER_TIMEOUT_SECONDS): a 503 instead of the outcomes.
        """
        chosen = []
        for account in queryset:
            if able(account):
                chosen.append(account)
            else:
                self.message_user(request, f"Account {account.name}: {unable}", messages.WARNING)
        for account, outcome in zip(chosen, _all_at_once(call, chosen), strict=True):
            if isinstance(outcome, failure):
                self.message_user(request, f"Account {account.name}: {outcome}", messages.ERROR)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                self.message_user(request, f"Account {account.name}: {done(account)}")

    def _update(
        self, request: HttpRequest, queryset: QuerySet, verb: str, **fields: object
    ) -> None:
        changed = list(queryset.values_list("pk", "name"))
        count = queryset.update(**fields)
        pool.invalidate()
        # update() sends no post_save: say so for the live dashboard.
        signals.announce_written(changed)
        self.message_user(request, f"{count} account(s) {verb}.")


def _all_at_once(
    call: Callable[[Account], Awaitable[object]], accounts: list[Account]
) -> list[object]:
    """`call` for each account at the same time; each one's result or exception, in order."""

    async def gathered() -> list[object]:
        return await asyncio.gather(*map(call, accounts), return_exceptions=True)

    return async_to_sync(gathered)() if accounts else []


def _secret_rule(kind: str) -> Callable[[str], None]:
    """What the "new API key or token" field holds for an account of this kind."""
    if kind in (Account.Kind.OAUTH, Account.Kind.SETUP_TOKEN):
        return validation.validate_token
    return validation.validate_api_key


def _window(utilization: float | None, reset: datetime | None) -> str:
    if utilization is None:
        return "—"
    text = f"{utilization:.0%}"
    return f"{text}, resets {_when(reset)}" if reset else text
