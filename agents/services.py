"""Choosing models for agents (API, dashboard, admin and `manage.py agents` share these).

Each change is validated against the price table (agents.catalog) and makes this
process's proxy reload its agents at once (a signal receiver in agents/apps.py).
"""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from agents import catalog, files, frontmatter
from agents.discovery import Agent
from agents.models import AgentDefinition, AgentPreference, Workspace
from agents.registry import Snapshot, build
from analytics.models import Request
from analytics.operations import runtime


class AgentNotFound(LookupError):
    def __init__(self, agent_id: str) -> None:
        super().__init__(f"No agent {agent_id[:300]!r}")


class AgentEditError(ValueError):
    """An edit that cannot be applied (a bad colour, tool or mode); the message says why."""


def validated(model: str | None) -> str:
    """`model` as it is stored (trimmed; shorthands lower-cased); raises UnknownModel."""
    model = (model or "").strip()
    if not model:
        raise catalog.UnknownModel("Model is required")
    catalog.load().resolve(model)
    return model.lower() if model.lower() in (catalog.INHERIT, *catalog.SHORTHANDS) else model


def find(snapshot: Snapshot, agent_id: str) -> Agent:
    agent = next((a for a in snapshot.agents if a.id == agent_id), None)
    if agent is None:
        raise AgentNotFound(agent_id)
    return agent


def set_preference(agent_id: str, model: str) -> str:
    """Put one agent on `model`; returns the stored value."""
    find(build(), agent_id)
    value = validated(model)
    AgentPreference.objects.update_or_create(agent_id=agent_id, defaults={"model": value})
    return value


def clear_preference(agent_id: str) -> None:
    """Back to the agent's own model (its file's or definition's, else the default)."""
    AgentPreference.objects.filter(agent_id=agent_id).delete()


def set_all(model: str) -> int:
    """Put every agent on `model`; returns how many."""
    value = validated(model)
    agents = build().agents
    with transaction.atomic():
        for agent in agents:
            AgentPreference.objects.update_or_create(agent_id=agent.id, defaults={"model": value})
    return len(agents)


def set_default_model(model: str) -> str:
    value = validated(model)
    runtime.set_default_agent_model(value)
    return value


def usage_by_agent(*, hours: int = 24) -> dict[str, dict[str, int]]:
    """Requests and tokens per agent over the last `hours`."""
    since = timezone.now() - timedelta(hours=hours)
    rows = (
        Request.objects.filter(timestamp__gte=since, agent_used__isnull=False)
        .values("agent_used")
        .annotate(requests=Count("id"), tokens=Sum("total_tokens"))
    )
    return {r["agent_used"]: {"requests": r["requests"], "tokens": r["tokens"] or 0} for r in rows}


def workspaces(snapshot: Snapshot) -> list[dict]:
    counts: dict[str, int] = {}
    for agent in snapshot.agents:
        if agent.workspace_path:
            counts[agent.workspace_path] = counts.get(agent.workspace_path, 0) + 1
    return [
        {
            "path": w.path,
            "name": w.name,
            "lastSeen": int(w.last_seen.timestamp() * 1000),
            "agentCount": counts.get(w.path, 0),
            "exists": Path(w.path).is_dir(),
        }
        for w in Workspace.objects.all()
    ]


def edit(agent_id: str, changes: dict) -> Agent:
    """Apply a PATCH /api/agents/{id}: rewrite the agent's file (or its definition).

    A changed model drops the agent's preference, so the edit is what applies.
    """
    agent = find(build(), agent_id)
    fields = _edited_fields(changes)
    prompt = changes.get("systemPrompt")
    if agent.source == "admin":
        _edit_definition(agent, fields, prompt)
    else:
        _edit_file(agent, fields, prompt)
    if "model" in fields:
        clear_preference(agent_id)
    return find(build(), agent_id)


def _edited_fields(changes: dict) -> dict[str, str]:
    fields: dict[str, str] = {}
    if changes.get("description") is not None:
        fields["description"] = changes["description"]
    if changes.get("model") is not None:
        fields["model"] = validated(changes["model"])
    if changes.get("color") is not None:
        if changes["color"] not in frontmatter.COLORS:
            raise AgentEditError(f"Color must be one of: {', '.join(frontmatter.COLORS)}")
        fields["color"] = changes["color"]
    tools = _tools(changes.get("mode"), changes.get("tools"))
    if tools is not None:
        fields["tools"] = tools
    return fields


def _tools(mode: str | None, tools: list[str] | None) -> str | None:
    """The `tools` value to write: "" for all tools, None for no change."""
    if mode is None and tools is None:
        return None
    if mode is None or mode == "custom":
        unknown = [t for t in tools or [] if t not in frontmatter.TOOLS]
        if tools is None or unknown:
            raise AgentEditError(
                f"Custom tools must be a list of: {', '.join(frontmatter.TOOLS)}"
                + (f" (unknown: {', '.join(unknown)[:200]})" if unknown else "")
            )
        return ", ".join(tools)
    if mode not in frontmatter.PRESETS:
        raise AgentEditError(f"Mode must be one of: {', '.join([*frontmatter.PRESETS, 'custom'])}")
    return ", ".join(frontmatter.PRESETS[mode] or ())


def _edit_file(agent: Agent, fields: dict[str, str], prompt: str | None) -> None:
    path = Path(agent.file_path or "")
    if agent.workspace_path is not None and not files.checked_folder(
        Path(agent.workspace_path), ".claude", "agents", owner=None
    ):
        raise AgentEditError("The agent's folder is a symlink now; it cannot be edited")
    # The same rules as reading (agents.files): a file swapped for a symlink since it
    # was read is refused, never written through.
    try:
        parsed = frontmatter.parse(files.read_text(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentEditError(f"The agent's file cannot be edited: {files.reason(exc)}") from None
    merged = {**parsed.fields, **fields}
    if merged.get("tools") == "":
        merged.pop("tools")
    text = frontmatter.render(merged, parsed.prompt if prompt is None else prompt)
    try:
        files.write_text(path, text)
    except OSError as exc:
        raise AgentEditError(f"The agent's file cannot be edited: {files.reason(exc)}") from None


def _edit_definition(agent: Agent, fields: dict[str, str], prompt: str | None) -> None:
    kept_in_files = sorted(fields.keys() & {"color", "tools"})
    if kept_in_files:
        # Only an agent's file has them: answering success while dropping them misled.
        raise AgentEditError(
            f"An agent defined in the admin has no {' or '.join(kept_in_files)}: "
            "it takes a description, a model and a system prompt"
        )
    definition = AgentDefinition.objects.get(name=agent.name)
    definition.description = fields.get("description", definition.description)
    definition.model = fields.get("model", definition.model)
    if prompt is not None:
        definition.prompt = prompt
    try:
        definition.full_clean()
    except ValidationError as exc:
        raise AgentEditError("; ".join(exc.messages)) from None
    definition.save()
