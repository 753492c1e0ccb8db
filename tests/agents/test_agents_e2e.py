"""Agents end to end: a real daphne, agent files in its AGENTS_DIR, the fake upstream."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agents.models import AgentDefinition, AgentPreference, Workspace
from analytics.models import Request
from tests.conftest import FakeUpstream, ProxyServer, wait_for
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)

REVIEWER_PROMPT = "You are a meticulous code reviewer. Check every diff for off-by-one errors."
HAIKU = "claude-haiku-5-5"  # the newest haiku of the seeded price table


def agent_file(folder: Path, base: str, *, model: str | None, prompt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model_line = f"model: {model}\n" if model else ""
    path = folder / f"{base}.md"
    path.write_text(f"---\nname: {base}\ndescription: test agent\n{model_line}---\n{prompt}\n")
    return path


@pytest.fixture
def agents_dir(proxy: ProxyServer) -> Iterator[Path]:
    """The server's global agents folder, emptied after the test."""
    folder = Path(proxy.env["AGENTS_DIR"])
    folder.mkdir(exist_ok=True)
    yield folder
    for path in folder.glob("*.md"):
        path.unlink()


def body(system: object, *, model: str = "claude-sonnet-4-6", first: str = "hi") -> dict:
    return {
        "model": model,
        "max_tokens": 64,
        "system": system,
        "messages": [{"role": "user", "content": first}],
        "metadata": {"user_id": "someone"},
        "tools": [{"name": "t", "input_schema": {"type": "object", "properties": {}}}],
    }


def post(proxy: ProxyServer, payload: dict | bytes) -> httpx.Response:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "x-api-key": "client-own-key",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    return httpx.post(f"{proxy.url}/v1/messages", content=content, headers=headers, timeout=10)


def recorded(count: int) -> list[Request]:
    rows = wait_for(lambda: Request.objects.count() >= count and list(Request.objects.all()))
    assert rows and len(rows) == count
    return sorted(rows, key=lambda r: r.timestamp)


def test_an_agents_request_reaches_upstream_on_its_model_and_is_recorded(
    proxy: ProxyServer, fake_upstream: FakeUpstream, agents_dir: Path, prices: None
) -> None:
    make_account(name="work", api_key="sk-ant-api03-agent-test-key")
    agent_file(agents_dir, "reviewer", model="haiku", prompt=REVIEWER_PROMPT)
    system = [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": f"Instructions:\n{REVIEWER_PROMPT}\nBe brief."},
    ]
    sent = json.dumps(body(system), indent=1).encode()  # unusual spacing must survive too

    assert post(proxy, sent).status_code == 200
    assert post(proxy, body("You are a helpful assistant.")).status_code == 200
    assert post(proxy, {k: v for k, v in body("x").items() if k != "system"}).status_code == 200

    agent, plain, no_system = fake_upstream.log()
    expected = json.loads(sent)
    expected["model"] = HAIKU
    assert agent["json"] == expected
    assert agent["body_bytes"] == len(sent) - len("claude-sonnet-4-6") + len(HAIKU)
    assert plain["json"]["model"] == no_system["json"]["model"] == "claude-sonnet-4-6"
    rows = recorded(3)
    assert (rows[0].agent_used, rows[0].original_model) == ("reviewer", "claude-sonnet-4-6")
    assert rows[0].routing_trace[0] == {
        "account": None,
        "agent": "reviewer",
        "outcome": f"model claude-sonnet-4-6 changed to {HAIKU} for this agent",
    }
    assert rows[0].routing_trace[-1]["outcome"] == "served"
    assert [(r.agent_used, r.original_model) for r in rows[1:]] == [(None, None), (None, None)]


def test_a_preference_set_through_the_api_wins_over_the_file(
    proxy: ProxyServer, fake_upstream: FakeUpstream, agents_dir: Path, prices: None
) -> None:
    agent_file(agents_dir, "reviewer", model="haiku", prompt=REVIEWER_PROMPT)
    from access import credentials

    token = credentials.create_api_token(name="agents-e2e")[1]
    answer = httpx.post(
        f"{proxy.url}/api/agents/reviewer/preference",
        json={"model": "opus"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True, "agentId": "reviewer", "model": "opus"}
    assert AgentPreference.objects.get(agent_id="reviewer").model == "opus"

    post(proxy, body(REVIEWER_PROMPT))

    assert fake_upstream.log()[0]["json"]["model"] == "claude-opus-5-5"


def test_an_agent_on_inherit_is_recorded_but_keeps_its_model(
    proxy: ProxyServer, fake_upstream: FakeUpstream, agents_dir: Path, prices: None
) -> None:
    agent_file(
        agents_dir, "planner", model="inherit", prompt="You plan work in small steps, always."
    )

    post(proxy, body("Preamble. You plan work in small steps, always."))

    assert fake_upstream.log()[0]["json"]["model"] == "claude-sonnet-4-6"
    row = recorded(1)[0]
    assert (row.agent_used, row.original_model) == ("planner", None)


def test_a_workspace_named_in_claude_md_is_registered_and_its_agents_load(
    proxy: ProxyServer, fake_upstream: FakeUpstream, tmp_path: Path, prices: None
) -> None:
    project = tmp_path / "myrepo"
    agent_file(project / ".claude" / "agents", "tester", model="haiku", prompt=REVIEWER_PROMPT)
    first = f"<system-reminder>Contents of {project}/CLAUDE.md (project instructions):\n# Repo"
    missing = "Contents of /nowhere/on/this/machine/CLAUDE.md (project instructions)"

    post(proxy, body(f"Prompt. {REVIEWER_PROMPT}", first=first))
    post(proxy, body("Main thread.", first=missing))

    assert fake_upstream.log()[0]["json"]["model"] == HAIKU
    workspace = Workspace.objects.get()
    assert (workspace.path, workspace.name) == (str(project), "myrepo")
    assert recorded(2)[0].agent_used == "myrepo:tester"


def test_a_malformed_agent_file_breaks_no_request(
    proxy: ProxyServer, fake_upstream: FakeUpstream, agents_dir: Path, prices: None
) -> None:
    (agents_dir / "broken.md").write_text("no front matter at all\n")
    (agents_dir / "unclosed.md").write_text("---\nname: x\nmodel: haiku\n")
    (agents_dir / "binary.md").write_bytes(b"---\nname: \xff\xfe\n---\n")
    agent_file(agents_dir, "reviewer", model="haiku", prompt=REVIEWER_PROMPT)

    assert post(proxy, body(REVIEWER_PROMPT)).status_code == 200
    assert post(proxy, body("no agent here")).status_code == 200

    assert [e["json"]["model"] for e in fake_upstream.log()] == [HAIKU, "claude-sonnet-4-6"]
    assert "agents.file_skipped" in proxy.server_log()


def test_an_agent_defined_in_the_admin_is_detected_without_files(
    proxy: ProxyServer, fake_upstream: FakeUpstream, prices: None
) -> None:
    AgentDefinition.objects.create(
        name="remote-reviewer", prompt="reviews diffs sent from the build machine", model="opus"
    )

    post(proxy, body("You are a bot that reviews diffs sent from the build machine nightly."))

    assert fake_upstream.log()[0]["json"]["model"] == "claude-opus-5-5"
    assert recorded(1)[0].agent_used == "admin:remote-reviewer"
