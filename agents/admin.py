"""The agents admin: agents defined by their prompt, the model chosen per agent, workspaces.

Model fields are checked against the price table (agents.catalog), as in the API.
"""

from django import forms
from django.contrib import admin

from agents import catalog
from agents.models import AgentDefinition, AgentPreference, Workspace


def _checked_model(value: str) -> str:
    try:
        catalog.load().resolve(value)
    except catalog.UnknownModel as exc:
        raise forms.ValidationError(str(exc)) from None
    return value.strip()


class _ModelChoiceForm(forms.ModelForm):
    def clean_model(self) -> str:
        return _checked_model(self.cleaned_data["model"])


class AgentDefinitionForm(_ModelChoiceForm):
    class Meta:
        model = AgentDefinition
        fields = ("name", "description", "prompt", "model")
        help_texts = {
            "prompt": "The agent's prompt, or a distinctive part of it (20 characters at "
            "least): requests whose system prompt contains it are this agent's.",
        }


class AgentPreferenceForm(_ModelChoiceForm):
    class Meta:
        model = AgentPreference
        fields = ("agent_id", "model")


@admin.register(AgentDefinition)
class AgentDefinitionAdmin(admin.ModelAdmin):
    """For Claude Code running on another machine than the proxy (no agent files here)."""

    form = AgentDefinitionForm
    list_display = ("name", "model", "description", "updated_at")
    search_fields = ("name", "description", "prompt")


@admin.register(AgentPreference)
class AgentPreferenceAdmin(admin.ModelAdmin):
    form = AgentPreferenceForm
    list_display = ("agent_id", "model", "updated_at")
    search_fields = ("agent_id",)


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "path", "last_seen")
    search_fields = ("name", "path")
    readonly_fields = ("last_seen",)
