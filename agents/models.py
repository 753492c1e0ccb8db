"""Agents defined in the admin, the model chosen per agent, and the workspaces seen in requests."""

from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models
from django.utils import timezone


class AgentDefinition(models.Model):
    """An agent known by part of its prompt, for Claude Code running on another machine.

    Its id in the API is `admin:<name>`, so it never collides with a file agent.
    """

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "Letters, digits, _ . -")],
    )
    description = models.CharField(max_length=500, blank=True)
    # The agent's prompt, or a distinctive part of it: a request whose system prompt
    # contains this text is the agent's. Short text would match unrelated requests.
    prompt = models.TextField(validators=[MinLengthValidator(20)])
    model = models.CharField(
        max_length=128,
        default="inherit",
        help_text="inherit, fable, opus, sonnet, haiku or a model id of the price table",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentPreference(models.Model):
    """The model chosen for one agent (API, dashboard, admin, CLI); wins over its file."""

    agent_id = models.CharField(max_length=300, primary_key=True)
    model = models.CharField(max_length=128)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.agent_id} -> {self.model}"


class Workspace(models.Model):
    """A project folder named in a request's prompt that exists on this machine."""

    path = models.CharField(max_length=1024, unique=True)
    name = models.CharField(max_length=255)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.path
