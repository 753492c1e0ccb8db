"""Detection and the body rewrite, on raw bytes: what changes is the model value, nothing else."""

import json
import logging

import pytest

from agents import discovery, override
from agents.discovery import Agent
from agents.registry import Snapshot

PROMPT = "You are the release-notes writer. Summarise merged pull requests."
ALPHA = "alpha agent's own prompt text"


def agent(agent_id: str, prompt: str) -> Agent:
    return Agent(
        id=agent_id, name=agent_id, description="", color="gray", model="", prompt=prompt,
        source="global",
    )  # fmt: skip


def snapshot(*agents: Agent, targets: dict[str, str] | None = None) -> Snapshot:
    return Snapshot(agents=agents, targets=targets or {})


def test_only_the_model_value_bytes_change() -> None:
    raw = (
        b'{ "model" :  "claude-sonnet-4-6",\n "system": "x",'
        b' "messages": [{"role":"user","content":"caf\\u00e9 \\"model\\": \\"y\\""}],'
        b' "max_tokens": 5 }'
    )
    found = override._override(
        snapshot(agent("notes", "x"), targets={"notes": "claude-haiku-5-5"}),
        agent("notes", "x"),
        raw,
    )

    assert found.body == raw.replace(b'"claude-sonnet-4-6"', b'"claude-haiku-5-5"')
    assert (found.original_model, found.model) == ("claude-sonnet-4-6", "claude-haiku-5-5")


def test_the_top_level_model_is_found_among_nested_ones() -> None:
    body = {
        "messages": [{"role": "user", "content": [{"type": "tool_result", "content": "ok"}]}],
        "tools": [{"name": "t", "input_schema": {"model": "nested-first"}}],
        "model": "claude-sonnet-4-6",
        "metadata": {"model": "nested-after"},
    }
    raw = json.dumps(body).encode()
    start, end = override._model_span(raw)

    assert raw[start:end] == b'"claude-sonnet-4-6"'


def test_a_body_without_a_top_level_model_is_left_alone() -> None:
    raw = b'{"system": "x", "metadata": {"model": "a"}, "tools": [{"model": "b"}]}'
    assert override._model_span(raw) is None
    found = override._override(snapshot(targets={"n": "m"}), agent("n", "x"), raw)
    assert found.body == raw and found.model is None


@pytest.mark.parametrize(
    ("system", "text"),
    [
        ("plain text", "plain text"),
        ([{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}], "a\nb"),
        (None, None),
        (5, None),
    ],
)
def test_the_system_text_from_a_string_or_text_blocks(system: object, text: str | None) -> None:
    raw = json.dumps({"model": "m", "system": system, "messages": []}).encode()
    assert override._system_text(raw, raw.find(b'"system"')) == text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"system": oops, "messages": []}',
        b'{"system": "x", "messages": [{"system": }]}',
        b'{"system": "x", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b', "system": 1}',
    ],
    ids=["bad-value", "bad-body", "too-deep"],
)
async def test_a_body_that_cannot_be_read_has_no_agent_and_logs_no_error(
    raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    found = await override.detect(raw)

    assert found is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_nested_system_key_does_not_hide_the_top_level_one() -> None:
    raw = json.dumps(
        {"tools": [{"input_schema": {"system": "inner"}}], "system": "outer", "model": "m"}
    ).encode()
    assert override._system_text(raw, raw.find(b'"system"')) == "outer"


def test_the_longest_matching_prompt_wins_and_empty_or_trivial_prompts_never_match() -> None:
    short, long = agent("short", "You are the release-notes writer."), agent("long", PROMPT)
    # A prompt of a word or two is in nearly every request: it took them over.
    trivial = agent("trivial", "a" * (discovery.MIN_PROMPT_CHARS - 1))
    found = snapshot(agent("empty", ""), trivial, short, long)

    assert found.match(f"Preamble.\n{PROMPT}\nMore.") is long
    assert found.match("You are the release-notes writer. Go.") is short
    assert found.match("nothing") is None
    assert found.match("a" * 100) is None


def test_workspace_folders_from_agents_paths_and_claude_md() -> None:
    raw = (
        b'{"system": "x", "messages": [{"role": "user", "content": '
        b'"Contents of \\/home\\/me\\/repo\\/CLAUDE.md (project instructions)\\n'
        b'Contents of /srv/other/CLAUDE.md"}]}'
    )
    system = "Agents live in /home/me/repo/.claude/agents and '/opt/x/.claude/agents'."

    assert override._workspace_folders(raw, system) == {"/home/me/repo", "/opt/x", "/srv/other"}


def test_match_cache_follows_the_snapshot() -> None:
    cache = override._MatchCache(2)
    first = snapshot(agent("a", ALPHA))
    second = snapshot(agent("b", ALPHA))

    assert cache.match(first, f"the {ALPHA}").id == "a"
    assert cache.match(first, f"the {ALPHA}").id == "a"
    assert cache.match(second, f"the {ALPHA}").id == "b"
    for text in ("x", "y", "z"):
        assert cache.match(second, text) is None
    assert len(cache._found) == 2
    assert cache.knows(second, "z") and not cache.knows(second, "x")
    assert not cache.knows(first, "z")  # another snapshot's matches are not its own


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "claude-sonnet-4-6", "tools": [{"input_schema": {"model": "x"}}]}',
        b'{"max_tokens": 5, "model" : "claude-sonnet-4-6"}',
        b'{"metadata": {"user_id": "{u}"}, "model": "claude-sonnet-4-6", "x": {"model": "y"}}',
        b'{"tags": ["model"], "model": "claude-sonnet-4-6"}',
    ],
)
def test_the_top_level_model_wherever_it_sits(raw: bytes) -> None:
    start, end = override._model_span(raw)
    assert raw[start:end] == b'"claude-sonnet-4-6"'


async def test_the_body_is_searched_for_workspaces_once_per_new_system_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    current = snapshot(agent("writer", PROMPT))
    registered: list[set[str]] = []

    async def register_workspaces(folders: set[str]) -> bool:
        registered.append(folders)
        return False

    async def snapshot_now() -> Snapshot:
        return current

    monkeypatch.setattr(override.registry, "register_workspaces", register_workspaces)
    monkeypatch.setattr(override.registry, "current", snapshot_now)
    monkeypatch.setattr(override, "_matches", override._MatchCache(8))

    def turn(system: str) -> bytes:
        first = "Contents of /home/me/repo/CLAUDE.md (project instructions)"
        messages = [{"role": "user", "content": first}]
        return json.dumps({"model": "m", "system": system, "messages": messages}).encode()

    for _ in range(3):  # three turns of one conversation
        found = await override.detect(turn(f"Hi. {PROMPT}"))
        assert found is not None and found.agent == "writer"
    await override.detect(turn("Another session's prompt."))

    assert registered == [{"/home/me/repo"}, {"/home/me/repo"}]
