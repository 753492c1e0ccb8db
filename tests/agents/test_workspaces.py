"""Which folders named in requests become workspaces: one spelling, a bound, their owner."""

import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from agents import discovery, override, workspaces
from agents.models import Workspace
from agents.registry import Registry, Snapshot

OTHER_USER = 54321


def project(root: Path, *, agents: bool = True) -> Path:
    """A project folder with an agent file (or only a CLAUDE.md)."""
    folder = root / ".claude" / "agents"
    folder.mkdir(parents=True)
    if agents:
        (folder / "reviewer.md").write_text(f"---\nname: reviewer\n---\nReview {root}.\n")
    else:
        (root / "CLAUDE.md").write_text("Notes.\n")
        folder.rmdir()
    return root


@pytest.mark.parametrize(
    ("path", "spelled"),
    [
        ("/tmp///x//", "/tmp/x"),
        ("//tmp/./x", "/tmp/x"),
        ("/tmp/a/../x", "/tmp/x"),
        ("/", None),
        ("relative/x", None),
        ("/tmp/bad\udc80name", None),
        ("/tmp/line\nbreak", None),
        ("/tmp/m\u00fcller", "/tmp/m\u00fcller"),
    ],
)
def test_one_spelling_per_folder(path: str, spelled: str | None) -> None:
    assert workspaces.normalised(path) == spelled


def test_thousands_of_spellings_are_one_folder_and_the_search_is_bounded() -> None:
    spellings = " ".join(f"/tmp{'/' * n}x{'/' * (n % 7)}/.claude/agents" for n in range(1, 3000))
    assert override._workspace_folders(b"{}", spellings) == {"/tmp/x"}

    many = " ".join(f"/tmp/p{n}/.claude/agents" for n in range(1000))
    assert len(override._workspace_folders(b"{}", many)) == override._MAX_FOLDERS_NAMED


def test_json_escaped_and_unencodable_paths() -> None:
    first = (
        "Contents of /home/m\u00fcller/repo/CLAUDE.md\nContents of /tmp/x/bad\udc80name/CLAUDE.md"
    )
    raw = json.dumps({"system": "s", "messages": [{"role": "user", "content": first}]}).encode()
    assert b"\\u00fc" in raw  # json.dumps escapes it, as SDKs do
    system = "Agents: /tmp/x/bad\udc80name/.claude/agents"

    assert override._workspace_folders(raw, system) == {"/home/m\u00fcller/repo"}


async def test_a_lone_surrogate_is_skipped_quietly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    registered: list[set[str]] = []

    async def register_workspaces(folders: set[str]) -> bool:
        registered.append(folders)
        return False

    async def current() -> Snapshot:
        return Snapshot()

    monkeypatch.setattr(override.registry, "register_workspaces", register_workspaces)
    monkeypatch.setattr(override.registry, "current", current)
    monkeypatch.setattr(override, "_matches", override._MatchCache(8))
    raw = b'{"model": "m", "system": "/tmp/x/bad\\udc80name/.claude/agents", "messages": []}'

    assert await override.detect(raw) is None
    assert registered == [set()]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_one_request_looks_at_a_handful_of_new_folders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_at: list[list[str]] = []

    async def in_thread(function: Any, folders: list[str]) -> int:
        looked_at.append(folders)
        return 0

    monkeypatch.setattr("agents.registry._in_thread", in_thread)
    registry = Registry()
    named = {f"/tmp/p{n:02}" for n in range(20)}

    await registry.register_workspaces(named)
    await registry.register_workspaces(named)

    assert [len(f) for f in looked_at] == [8, 8]
    assert set(looked_at[0]).isdisjoint(looked_at[1])


@pytest.mark.parametrize(
    "path", ["/etc", "/proc", "/proc/self/cwd", "/dev", "/sys/kernel", "/dev/shm"]
)
def test_system_folders_never_qualify(path: str) -> None:
    assert workspaces.qualified(path) is None


def test_only_own_folders_with_agents_or_a_claude_md_qualify(tmp_path: Path) -> None:
    with_agents = project(tmp_path / "a")
    with_notes = project(tmp_path / "b", agents=False)
    (tmp_path / "empty").mkdir()
    theirs = project(tmp_path / "theirs")
    os.chown(theirs, OTHER_USER, OTHER_USER)
    planted = project(tmp_path / "planted")
    os.chown(planted / ".claude" / "agents", OTHER_USER, OTHER_USER)
    (tmp_path / "link").symlink_to(with_agents)

    assert workspaces.qualified(str(with_agents)) == str(with_agents)
    assert workspaces.qualified(str(with_notes)) == str(with_notes)
    assert workspaces.qualified(str(tmp_path / "link")) == str(with_agents)  # one row
    assert workspaces.qualified(str(tmp_path / "empty")) is None
    assert workspaces.qualified(str(theirs)) is None
    assert workspaces.qualified(str(planted)) is None


def test_workspaces_with_one_name_get_distinct_ids(tmp_path: Path, settings: Any, db: None) -> None:
    settings.AGENTS_DIR = tmp_path / "no-global"
    first = project(tmp_path / "aa" / "proj3")
    second = project(tmp_path / "legit" / "proj3")

    assert workspaces.save([str(first), str(second), str(first)]) == 2

    names = dict(Workspace.objects.values_list("path", "name"))
    suffix = workspaces.suffixed("proj3", str(second))
    assert names == {str(first): "proj3", str(second): suffix}
    assert {a.id for a in discovery.discover()} == {"proj3:reviewer", f"{suffix}:reviewer"}


def test_rows_from_before_the_rules_are_not_read(tmp_path: Path, settings: Any, db: None) -> None:
    settings.AGENTS_DIR = tmp_path / "no-global"
    good = project(tmp_path / "one" / "proj")
    twin = project(tmp_path / "two" / "proj")
    Workspace.objects.create(path=str(good), name="proj")
    Workspace.objects.create(path=str(twin), name="proj")  # a collision saved before
    Workspace.objects.create(path=f"/{good}//", name="proj")  # another spelling
    Workspace.objects.create(path="/proc/self/cwd", name="cwd")

    ids = {a.id for a in discovery.discover()}

    assert ids == {"proj:reviewer", f"{workspaces.suffixed('proj', str(twin))}:reviewer"}


@pytest.mark.django_db
def test_the_migration_drops_rows_the_rules_would_not_make_now() -> None:
    # Before the rules, a client registered 3,000 spellings of one folder, and /proc paths.
    from django.apps import apps

    migration = importlib.import_module("agents.migrations.0002_drop_unqualified_workspaces")
    kept = ["/tmp/project", "/home/dev/work"]
    dropped = ["/tmp//project", "/tmp/project/", "/tmp/./project", "/proc/1/cwd", "/dev", "rel"]
    for n, path in enumerate(kept + dropped):
        Workspace.objects.create(path=path, name=f"w{n}")

    migration.drop_unqualified(apps, None)

    assert sorted(Workspace.objects.values_list("path", flat=True)) == sorted(kept)
