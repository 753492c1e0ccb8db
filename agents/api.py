"""/api/agents, /api/workspaces and /api/config/model, in ccflare's shapes (docs/api.md).

Three routers: `router` at /api/agents, `workspaces_router` at /api/workspaces,
`model_router` at /api/config/model (the default agent model).
"""

from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from agents import services
from agents.discovery import Agent
from agents.registry import Snapshot, build

router = Router(tags=["agents"])
workspaces_router = Router(tags=["agents"])
model_router = Router(tags=["agents"])

ModelName = Annotated[str, Field(max_length=128)]


class ModelIn(Schema):
    model: ModelName | None = None


class AgentPatch(Schema):
    description: Annotated[str, Field(max_length=500)] | None = None
    model: ModelName | None = None
    tools: list[Annotated[str, Field(max_length=40)]] | None = None
    color: Annotated[str, Field(max_length=20)] | None = None
    systemPrompt: Annotated[str, Field(max_length=200_000)] | None = None
    mode: Literal["all", "edit", "read-only", "execution", "custom"] | None = None


def agent_json(agent: Agent, snapshot: Snapshot, usage: dict[str, dict[str, int]]) -> dict:
    """One agent as ccflare listed it, plus what this proxy knows of it."""
    item: dict[str, object] = {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "color": agent.color,
        # ccflare's `model`: the preference, else the agent's own (else the default).
        "model": snapshot.chosen.get(agent.id, ""),
        "systemPrompt": agent.prompt,
        "source": agent.source,
        "filePath": agent.file_path,
        "ownModel": agent.model or None,
        "preference": snapshot.preferences.get(agent.id),
        # The model id its requests go to; null: they keep their own model.
        "effectiveModel": snapshot.targets.get(agent.id),
        "requests": usage.get(agent.id, {}).get("requests", 0),
        "tokens": usage.get(agent.id, {}).get("tokens", 0),
    }
    if agent.workspace is not None:
        item["workspace"] = agent.workspace
    if agent.tools is not None:
        item["tools"] = list(agent.tools)
    return item


@router.get("", operation_id="agents_api_list")
def list_agents(request: HttpRequest) -> dict:
    """Every agent (files and admin), the workspaces, and the models one can choose."""
    snapshot = build()
    usage = services.usage_by_agent()
    agents = [agent_json(a, snapshot, usage) for a in snapshot.agents]
    return {
        "agents": agents,
        "globalAgents": [a for a in agents if a["source"] == "global"],
        "workspaceAgents": [a for a in agents if a["source"] == "workspace"],
        "adminAgents": [a for a in agents if a["source"] == "admin"],
        "workspaces": [
            {k: w[k] for k in ("path", "name", "lastSeen")} for w in services.workspaces(snapshot)
        ],
        "defaultModel": snapshot.default_model,
        "modelChoices": snapshot.catalog.choices(),
    }


# bulk-preference comes before /{agent_id}/..., which would not take it anyway (no slash).
@router.post("/bulk-preference", operation_id="agents_api_bulk_preference")
def bulk_preference(request: HttpRequest, body: ModelIn) -> dict:
    count = services.set_all(body.model or "")
    if not count:
        return {"message": "No agents found to update"}
    return {"success": True, "updatedCount": count, "model": services.validated(body.model)}


@router.post("/{agent_id}/preference", operation_id="agents_api_set_preference")
def set_preference(request: HttpRequest, agent_id: str, body: ModelIn) -> dict:
    model = services.set_preference(agent_id, body.model or "")
    return {"success": True, "agentId": agent_id, "model": model}


@router.delete("/{agent_id}/preference", operation_id="agents_api_clear_preference")
def clear_preference(request: HttpRequest, agent_id: str) -> dict:
    """Back to the agent's own model (an addition to ccflare's routes)."""
    services.clear_preference(agent_id)
    return {"success": True, "agentId": agent_id}


@router.patch("/{agent_id}", operation_id="agents_api_edit")
def edit_agent(request: HttpRequest, agent_id: str, body: AgentPatch) -> dict:
    agent = services.edit(agent_id, body.dict(exclude_none=True))
    snapshot = build()
    return {"success": True, "agent": agent_json(agent, snapshot, services.usage_by_agent())}


@workspaces_router.get("", operation_id="agents_api_workspaces")
def list_workspaces(request: HttpRequest) -> dict:
    return {"workspaces": services.workspaces(build())}


@model_router.get("", operation_id="agents_api_get_default_model")
def get_default_model(request: HttpRequest) -> dict:
    return {"model": build().default_model}


@model_router.post("", operation_id="agents_api_set_default_model")
def set_default_model(request: HttpRequest, body: ModelIn) -> dict:
    return {"success": True, "model": services.set_default_model(body.model or "")}
