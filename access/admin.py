"""Admin for API tokens and client keys: create (the secret is shown once), list, revoke."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from access.models import (
    API_TOKEN_PREFIX,
    CLIENT_KEY_PREFIX,
    ApiToken,
    ClientKey,
    Credential,
    new_secret,
)


class CredentialAdmin(admin.ModelAdmin):
    list_display = ("name", "display", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name",)
    fields = ("name", "display", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("display", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)
    prefix = ""

    def save_model(
        self, request: HttpRequest, obj: Credential, form: forms.ModelForm, change: bool
    ) -> None:
        if not change:
            # Only the hash is stored: this message is the one chance to copy the secret.
            secret = new_secret(self.prefix)
            obj.set_secret(secret)
            messages.warning(request, f"Copy this secret now, it is not shown again: {secret}")
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.filter(revoked_at=None).update(revoked_at=timezone.now())
        messages.success(request, f"Revoked {count}.")


@admin.register(ApiToken)
class ApiTokenAdmin(CredentialAdmin):
    prefix = API_TOKEN_PREFIX


@admin.register(ClientKey)
class ClientKeyAdmin(CredentialAdmin):
    prefix = CLIENT_KEY_PREFIX
