"""Admin for API tokens and client keys: create (the secret is shown once), list, revoke."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from access import credentials, keyrules
from access.credentials import AccessError
from access.models import (
    API_TOKEN_PREFIX,
    CLIENT_KEY_PREFIX,
    ApiToken,
    ClientKey,
    Credential,
    KeyBudget,
    new_secret,
)
from lib import names


class CredentialForm(forms.ModelForm):
    """The rules `manage.py create_client_key` and the API apply to a new name."""

    def clean_name(self) -> str:
        try:
            name = names.clean_name(self.cleaned_data["name"])
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        model = self._meta.model
        live = model._default_manager.filter(name=name, revoked_at=None)
        if self.instance.pk is not None:
            live = live.exclude(pk=self.instance.pk)
        if live.exists():
            # Refused here, not by the database at the save: that was a 500, after the
            # message with a secret that was then never stored.
            raise forms.ValidationError(
                f"An active {credentials.label(model)} named '{name}' already exists"
            )
        return name


class CredentialAdmin(admin.ModelAdmin):
    list_display = ("name", "display", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name",)
    fields = ("name", "display", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("display", "created_at", "last_used_at", "revoked_at")
    actions: tuple[str, ...] = ("revoke",)
    form = CredentialForm
    prefix = ""

    def save_model(
        self, request: HttpRequest, obj: Credential, form: forms.ModelForm, change: bool
    ) -> None:
        secret = None
        if not change:
            secret = new_secret(self.prefix)
            obj.set_secret(secret)
        super().save_model(request, obj, form, change)
        if secret is not None:
            # Only the hash is stored: this message is the one chance to copy the secret.
            messages.warning(request, f"Copy this secret now, it is not shown again: {secret}")

    @admin.action(description="Revoke selected")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.filter(revoked_at=None).update(revoked_at=timezone.now())
        messages.success(request, f"Revoked {count}.")


@admin.register(ApiToken)
class ApiTokenAdmin(CredentialAdmin):
    prefix = API_TOKEN_PREFIX


class KeyBudgetForm(forms.ModelForm):
    class Meta:
        model = KeyBudget
        fields = ("metric", "window", "limit")

    def clean(self) -> dict:
        # The same rules as the API and the command (access.keyrules).
        data = super().clean() or {}
        if {"metric", "window", "limit"} <= data.keys():
            try:
                keyrules.validate_budget(
                    metric=data["metric"], window=data["window"], limit=data["limit"]
                )
            except AccessError as error:
                raise forms.ValidationError(str(error)) from None
        return data


class KeyBudgetInline(admin.TabularInline):
    model = KeyBudget
    form = KeyBudgetForm
    extra = 0


class ClientKeyForm(CredentialForm):
    """Model rules typed as comma-separated families ("opus, haiku")."""

    allowed_models = forms.CharField(
        required=False, help_text="Only these model families (e.g. 'haiku, sonnet'); empty: any."
    )
    denied_models = forms.CharField(
        required=False, help_text="Never these model families (e.g. 'opus')."
    )

    class Meta:
        model = ClientKey
        fields = ("name", "allowed_models", "denied_models")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("allowed_models", "denied_models"):
            self.initial[name] = ", ".join(getattr(self.instance, name) or [])

    def clean_allowed_models(self) -> list[str]:
        return _families(self.cleaned_data["allowed_models"])

    def clean_denied_models(self) -> list[str]:
        return _families(self.cleaned_data["denied_models"])

    def clean(self) -> dict:
        data = super().clean() or {}
        try:
            keyrules.check_no_overlap(data.get("allowed_models", []), data.get("denied_models", []))
        except AccessError as error:
            raise forms.ValidationError(str(error)) from None
        return data


def _families(text: str) -> list[str]:
    try:
        return keyrules.validate_families(text.split(","))
    except AccessError as error:
        raise forms.ValidationError(str(error)) from None


@admin.register(ClientKey)
class ClientKeyAdmin(CredentialAdmin):
    prefix = CLIENT_KEY_PREFIX
    form = ClientKeyForm
    inlines = (KeyBudgetInline,)

    actions = ("revoke", "rotate")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*CredentialAdmin.fields, "allowed_models", "denied_models")

    @admin.action(description="Give the selected keys new secrets (budgets and rules kept)")
    def rotate(self, request: HttpRequest, queryset: QuerySet) -> None:
        for key in queryset.filter(revoked_at=None):
            try:
                _, secret = credentials.rotate_client_key(name=key.name)
            except AccessError as error:  # revoked meanwhile
                messages.error(request, str(error))
                continue
            messages.warning(
                request,
                f"New secret for '{key.name}': copy it now, it is not shown again: {secret}",
            )
