"""The admin's "Add Claude account" page: the two-step OAuth login, as a mixin of AccountAdmin.

Step 1 takes the name, mode, tier and priority and starts the login
(`accounts.onboarding.start`); step 2 shows the link to open and takes the
pasted code (`onboarding.finish`). Django's CSRF protection covers both forms.
"""

import uuid
from typing import TYPE_CHECKING

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from accounts import oauth, onboarding
from accounts.models import TIERS, Account, OAuthSession

if TYPE_CHECKING:
    # The checker sees the ModelAdmin this mixin is used with; at run time a plain mixin.
    _AccountAdminBase = admin.ModelAdmin[Account]
else:
    _AccountAdminBase = object


class ClaudeLoginMixin(_AccountAdminBase):
    """Adds the two login pages to a ModelAdmin of Account (needs its admin_site and model)."""

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("add-claude/", view(self.login_start_view), name="accounts_account_add_claude"),
            path(
                "add-claude/<uuid:session_id>/",
                view(self.login_finish_view),
                name="accounts_account_add_claude_code",
            ),
            *super().get_urls(),
        ]

    def login_start_view(self, request: HttpRequest) -> HttpResponse:
        """Step 1: name, mode, tier, priority; then on to the URL to open."""
        self._check_add_permission(request)
        form = LoginStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                started = async_to_sync(onboarding.start)(**form.start_arguments())
            except onboarding.OnboardingError as error:
                form.add_error(None, str(error))
            else:
                url = reverse("admin:accounts_account_add_claude_code", args=[started.session_id])
                return HttpResponseRedirect(url)
        return self._login_page(request, form, step=1)

    @method_decorator(sensitive_post_parameters("code"))
    def login_finish_view(self, request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
        """Step 2: show the URL to open, take the pasted code, save the account."""
        self._check_add_permission(request)
        session = OAuthSession.objects.filter(pk=session_id, expires_at__gt=timezone.now()).first()
        if session is None:
            self.message_user(request, onboarding.EXPIRED_MESSAGE, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:accounts_account_add_claude"))
        form = LoginCodeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                finished = async_to_sync(onboarding.finish)(
                    session_id=session_id, pasted_code=form.cleaned_data["code"]
                )
            except (onboarding.OnboardingError, oauth.OAuthError) as error:
                form.add_error("code", str(error))
            else:
                self.message_user(request, finished.message)
                change = reverse("admin:accounts_account_change", args=[finished.account.pk])
                return HttpResponseRedirect(change)
        return self._login_page(request, form, step=2, session=session)

    def _login_page(
        self,
        request: HttpRequest,
        form: forms.Form,
        *,
        step: int,
        session: OAuthSession | None = None,
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Add Claude account",
            "form": form,
            "step": step,
            "session": session,
            "auth_url": _auth_url(session) if session else None,
            # A login started for an existing account replaces its credentials (one for a
            # new name never does: it is refused if the name was taken meanwhile).
            "replaces": onboarding.REPLACES_MESSAGE if session and session.account_id else None,
        }
        return render(request, "admin/accounts/account/add_claude.html", context)

    def _check_add_permission(self, request: HttpRequest) -> None:
        if not self.has_add_permission(request):
            raise PermissionDenied


class LoginStartForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="A new name adds an account; an existing name logs it in again "
        "(its credentials are replaced, its history kept).",
    )
    mode = forms.ChoiceField(
        choices=[
            ("max", "Claude Pro/Max subscription (OAuth)"),
            ("console", "Console: create an API key"),
        ],
        initial="max",
    )
    tier = forms.TypedChoiceField(
        choices=[("", "—")] + [(t, str(t)) for t in TIERS],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Plan size, shown only: 1 = Pro, 5 = Max 5x, 20 = Max 20x.",
    )
    priority = forms.IntegerField(
        required=False, help_text="Lower is preferred when a new session starts (default 0)."
    )

    def start_arguments(self) -> dict:
        return {key: self.cleaned_data[key] for key in ("name", "mode", "tier", "priority")}


class LoginCodeForm(forms.Form):
    code = forms.CharField(
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 80}),
        help_text="The code shown after logging in; it looks like abc…#xyz….",
    )


def _auth_url(session: OAuthSession) -> str:
    # Rebuilt rather than stored: the challenge derives from the (encrypted) verifier.
    challenge = oauth.challenge_for(session.verifier)
    return oauth.authorize_url(mode=session.mode, challenge=challenge, state=session.state)
