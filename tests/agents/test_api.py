"""/api/agents, /api/workspaces, /api/config/model and `manage.py agents`, on real files."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from agents import services
from agents.models import AgentDefinition, AgentPreference, Workspace
from analytics.models import Request, RuntimeSetting

pytestmark = pytest.mark.usefixtures("prices")

PROMPT = "You write the changelog entry for each merged pull request."


@pytest.fixture
def agents_dir(tmp_path: Path, settings: Any) -> Path:
    folder = tmp_path / "agents"
    folder.mkdir()
    settings.AGENTS_DIR = folder
    (folder / "changelog.md").write_text(
        f"---\nname: changelog\ndescription: Writes changelogs\nmodel: haiku\n"
        f"tools: Read, Write\ncolor: green\n---\n{PROMPT}\n"
    )
    (folder / "plain.md").write_text("---\nname: plain\n---\nA plain agent with no model line.\n")
    return folder


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    project = tmp_path / "shop"
    (project / ".claude" / "agents").mkdir(parents=True)
    (project / ".claude" / "agents" / "tester.md").write_text("---\nname: tester\n---\nTest it.\n")
    Workspace.objects.create(path=str(project), name="shop")
    return project


def test_the_list_in_ccflares_shape(api_client: Client, agents_dir: Path, workspace: Path) -> None:
    AgentDefinition.objects.create(name="remote", prompt="A remote agent's distinctive prompt.")
    Request.objects.create(
        method="POST", path="/v1/messages", agent_used="changelog", total_tokens=42
    )

    data = api_client.get("/api/agents").json()

    changelog = data["globalAgents"][0]
    assert changelog == {
        "id": "changelog",
        "name": "changelog",
        "description": "Writes changelogs",
        "color": "green",
        "model": "haiku",
        "systemPrompt": PROMPT,
        "source": "global",
        "filePath": str(agents_dir / "changelog.md"),
        "ownModel": "haiku",
        "preference": None,
        "effectiveModel": "claude-haiku-5-5",
        "requests": 1,
        "tokens": 42,
        "tools": ["Read", "Write"],
    }
    assert [a["id"] for a in data["agents"]] == [
        "changelog",
        "plain",
        "shop:tester",
        "admin:remote",
    ]
    assert data["workspaceAgents"][0]["workspace"] == "shop"
    assert [a["id"] for a in data["adminAgents"]] == ["admin:remote"]
    plain = data["agents"][1]
    assert (plain["model"], plain["effectiveModel"], plain["ownModel"]) == ("inherit", None, None)
    assert data["workspaces"] == [
        {"path": str(workspace), "name": "shop", "lastSeen": data["workspaces"][0]["lastSeen"]}
    ]
    assert data["defaultModel"] == "inherit"
    assert {"value": "haiku", "label": "haiku (claude-haiku-5-5)"} in data["modelChoices"]
    workspaces = api_client.get("/api/workspaces").json()["workspaces"]
    assert (workspaces[0]["agentCount"], workspaces[0]["exists"]) == (1, True)


def test_preferences_one_and_all(api_client: Client, agents_dir: Path) -> None:
    one = api_client.post(
        "/api/agents/changelog/preference", {"model": "opus"}, content_type="application/json"
    )
    assert one.json() == {"success": True, "agentId": "changelog", "model": "opus"}
    assert api_client.get("/api/agents").json()["agents"][0]["effectiveModel"] == "claude-opus-5-5"

    every = api_client.post(
        "/api/agents/bulk-preference",
        {"model": "claude-sonnet-4-6"},
        content_type="application/json",
    )
    assert every.json() == {"success": True, "updatedCount": 2, "model": "claude-sonnet-4-6"}
    assert set(AgentPreference.objects.values_list("model", flat=True)) == {"claude-sonnet-4-6"}

    cleared = api_client.delete("/api/agents/changelog/preference")
    assert cleared.status_code == 200
    assert api_client.get("/api/agents").json()["agents"][0]["model"] == "haiku"


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/agents/changelog/preference", {}, 400, "Model is required"),
        ("/api/agents/changelog/preference", {"model": "gpt-5"}, 400, "Unknown model 'gpt-5'"),
        ("/api/agents/nobody/preference", {"model": "opus"}, 404, "No agent 'nobody'"),
        ("/api/agents/bulk-preference", {"model": ""}, 400, "Model is required"),
        ("/api/config/model", {"model": "gpt-5"}, 400, "Unknown model"),
        ("/api/config/model", {"model": 5}, 400, "Invalid model"),
    ],
)
def test_bad_choices_are_clear_errors(
    api_client: Client, agents_dir: Path, path: str, body: dict, status: int, error: str
) -> None:
    answer = api_client.post(path, body, content_type="application/json")
    assert answer.status_code == status
    assert answer.json()["error"].startswith(error)


def test_no_agents_to_update(api_client: Client, tmp_path: Path, settings: Any) -> None:
    settings.AGENTS_DIR = tmp_path / "none"
    answer = api_client.post(
        "/api/agents/bulk-preference", {"model": "opus"}, content_type="application/json"
    )
    assert answer.json() == {"message": "No agents found to update"}


def test_the_default_model_is_a_runtime_setting(api_client: Client, settings: Any) -> None:
    assert api_client.get("/api/config/model").json() == {"model": "inherit"}
    answer = api_client.post(
        "/api/config/model", {"model": "Sonnet"}, content_type="application/json"
    )

    assert answer.json() == {"success": True, "model": "sonnet"}
    assert api_client.get("/api/config").json()["default_agent_model"] == "sonnet"
    assert RuntimeSetting.objects.get(key="default_agent_model").value == "sonnet"
    settings.RUNTIME_SETTINGS_FROM_ENV = frozenset({"DEFAULT_AGENT_MODEL"})
    locked = api_client.post(
        "/api/config/model", {"model": "opus"}, content_type="application/json"
    )
    assert locked.status_code == 409


def test_patch_rewrites_the_file_and_drops_the_preference(
    api_client: Client, agents_dir: Path
) -> None:
    AgentPreference.objects.create(agent_id="changelog", model="opus")
    answer = api_client.patch(
        "/api/agents/changelog",
        {"model": "sonnet", "color": "blue", "mode": "read-only", "systemPrompt": "New prompt."},
        content_type="application/json",
    )

    agent = answer.json()["agent"]
    assert (agent["model"], agent["color"], agent["systemPrompt"]) == (
        "sonnet",
        "blue",
        "New prompt.",
    )
    assert agent["tools"][:2] == ["Glob", "Grep"]
    assert not AgentPreference.objects.exists()
    text = (agents_dir / "changelog.md").read_text()
    assert text.startswith("---\nname: changelog\ndescription: Writes changelogs\nmodel: sonnet\n")
    assert text.endswith("---\n\nNew prompt.\n")
    all_tools = api_client.patch(
        "/api/agents/changelog", {"mode": "all"}, content_type="application/json"
    )
    assert "tools" not in all_tools.json()["agent"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"color": "mauve"}, 400, "Color must be one of"),
        ({"mode": "custom"}, 400, "Custom tools must be"),
        ({"tools": ["Read", "Teleport"]}, 400, "Custom tools must be"),
        ({"model": "gpt-5"}, 400, "Unknown model"),
        ({"mode": "everything"}, 400, "Invalid mode"),
    ],
)
def test_patch_refuses_bad_edits(
    api_client: Client, agents_dir: Path, body: dict, status: int, error: str
) -> None:
    before = (agents_dir / "changelog.md").read_text()
    answer = api_client.patch("/api/agents/changelog", body, content_type="application/json")
    assert (answer.status_code, answer.json()["error"][: len(error)]) == (status, error)
    assert (agents_dir / "changelog.md").read_text() == before


def test_patch_an_admin_agent_and_an_unknown_one(api_client: Client, agents_dir: Path) -> None:
    AgentDefinition.objects.create(name="remote", prompt="A remote agent's distinctive prompt.")
    answer = api_client.patch(
        "/api/agents/admin:remote", {"model": "haiku"}, content_type="application/json"
    )
    assert answer.json()["agent"]["effectiveModel"] == "claude-haiku-5-5"
    short = api_client.patch(
        "/api/agents/admin:remote", {"systemPrompt": "short"}, content_type="application/json"
    )
    assert short.status_code == 400
    assert (
        api_client.patch("/api/agents/ghost", {}, content_type="application/json").status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"color": "red"}, "no color"),
        ({"tools": ["Read", "Edit"]}, "no tools"),
        ({"mode": "read-only"}, "no tools"),
        ({"color": "red", "mode": "all", "model": "haiku"}, "no color or tools"),
    ],
)
def test_patch_of_what_an_admin_agent_has_not_is_a_400_and_changes_nothing(
    api_client: Client, agents_dir: Path, body: dict, named: str
) -> None:
    AgentDefinition.objects.create(name="remote", prompt="A remote agent's distinctive prompt.")

    answer = api_client.patch("/api/agents/admin:remote", body, content_type="application/json")

    assert answer.status_code == 400 and named in answer.json()["error"]
    assert AgentDefinition.objects.get(name="remote").model == "inherit"


def test_patch_never_writes_through_a_symlink(
    api_client: Client, agents_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "target"
    target.write_text("---\nname: changelog\n---\nnot the agent's\n")
    real_build = services.build

    def swapped_after_reading():  # type: ignore[no-untyped-def]
        # The file is replaced by a symlink between discovery and the write.
        snapshot = real_build()
        (agents_dir / "changelog.md").unlink()
        (agents_dir / "changelog.md").symlink_to(target)
        return snapshot

    monkeypatch.setattr(services, "build", swapped_after_reading)
    answer = api_client.patch(
        "/api/agents/changelog", {"description": "x"}, content_type="application/json"
    )

    assert (answer.status_code, answer.json()["error"]) == (
        400,
        "The agent's file cannot be edited: a symlink",
    )
    assert target.read_text() == "---\nname: changelog\n---\nnot the agent's\n"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("agents", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command(agents_dir: Path) -> None:
    assert run("get-model") == "Current default agent model: inherit\n"
    assert run("set-model", "haiku") == "Default agent model set to haiku\n"
    assert run("set-model", "opus", "--agent", "changelog") == "changelog now runs on opus\n"
    assert run("get-model", "changelog") == "changelog: opus -> claude-opus-5-5\n"
    assert run("list") == (
        "changelog  (global)  model: opus -> claude-opus-5-5\n"
        "plain  (global)  model: haiku -> claude-haiku-5-5\n"
    )
    assert (
        run("set-model", "--agent", "changelog", "--clear")
        == "changelog is back on its own model\n"
    )
    assert run("set-model", "inherit", "--all") == "2 agents now run on inherit\n"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("set-model", "gpt-5"), "Unknown model 'gpt-5'"),
        (("set-model", "opus", "--agent", "ghost"), "No agent 'ghost'"),
        (("get-model", "ghost"), "No agent 'ghost'"),
        (("set-model",), "Give a model"),
        (("set-model", "--clear"), "--clear needs --agent"),
    ],
)
def test_the_command_errors(agents_dir: Path, args: tuple[str, ...], error: str) -> None:
    with pytest.raises(CommandError, match=error):
        run(*args)


def test_the_command_writes_an_agent_files_control_characters_as_escapes(
    tmp_path: Path, settings: Any
) -> None:
    settings.AGENTS_DIR = tmp_path
    (tmp_path / "x\x1b[2J.md").write_text("---\nname: x\nmodel: m\x1b]0;pwn\x07\n---\nhi\n")

    assert (
        run("list") == "x\\x1b[2J  (global)  model: m\\x1b]0;pwn\\x07 -> the request's own model\n"
    )
    assert (
        run("get-model", "x\x1b[2J") == "x\\x1b[2J: m\\x1b]0;pwn\\x07 -> the request's own model\n"
    )


def test_the_command_lists_nothing_clearly(tmp_path: Path, settings: Any) -> None:
    settings.AGENTS_DIR = tmp_path / "none"
    assert run("list").startswith("No agents found")
