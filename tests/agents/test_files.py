"""Agent files (front matter, discovery) and the model catalog from the price table."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from agents import catalog, discovery, files, frontmatter, registry
from agents.models import Workspace
from analytics.price_seed import SEED_PRICES

# Long enough to be matched (discovery.MIN_PROMPT_CHARS).
PROMPT_A = "You are agent A, who writes the release notes."


@pytest.fixture(autouse=True)
def nothing_warned_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "_warned", set())


def test_front_matter_with_continuations_quotes_and_comments() -> None:
    parsed = frontmatter.parse(
        "\ufeff---\nname: reviewer\ndescription: Reviews code\n  across files\n"
        "# a comment\nmodel: 'haiku'\ntools: Read, Grep ,\n---\n\nYou review.\n"
    )

    assert parsed.fields == {
        "name": "reviewer",
        "description": "Reviews code across files",
        "model": "haiku",
        "tools": "Read, Grep ,",
    }
    assert parsed.tools == ("Read", "Grep")
    assert parsed.prompt == "You review."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("You review.", "no front matter"),
        ("---\nname: x\n", "not closed"),
        ("---\ndescription: x\n---\nbody", "no name"),
        ("---\nname: x\njust words\n---\n", "line 3 is not `key: value`"),
        ("", "no front matter"),
    ],
)
def test_unusable_files_say_why(text: str, reason: str) -> None:
    with pytest.raises(frontmatter.AgentFileError, match=reason):
        frontmatter.parse(text)


def test_render_then_parse_gives_the_same_agent() -> None:
    text = frontmatter.render({"name": "a", "description": "two\nlines", "tools": ""}, "Prompt.")
    parsed = frontmatter.parse(text)
    assert parsed.fields == {"name": "a", "description": "two lines"}
    assert parsed.prompt == "Prompt."


def test_shorthands_are_the_newest_priced_model_of_each_family() -> None:
    table = catalog.Catalog.of(row["model"] for row in SEED_PRICES)

    assert table.current == {
        "fable": "claude-fable-5-1",
        "opus": "claude-opus-5-5",
        "sonnet": "claude-sonnet-5-5",
        "haiku": "claude-haiku-5-5",
    }
    assert table.resolve("Haiku") == "claude-haiku-5-5"
    assert table.resolve("inherit") is None
    assert table.resolve("claude-opus-4-1") == "claude-opus-4-1"
    assert table.resolve("claude-opus-4-5-20251101") == "claude-opus-4-5-20251101"
    with pytest.raises(catalog.UnknownModel, match="Unknown model 'gpt-5'"):
        table.resolve("gpt-5")


def test_a_new_price_row_moves_the_shorthand() -> None:
    table = catalog.Catalog.of(["claude-opus-5-5", "claude-opus-5-10", "claude-opus-4-8"])
    assert table.current == {"opus": "claude-opus-5-10"}
    with pytest.raises(catalog.UnknownModel):
        table.resolve("haiku")  # no haiku is priced


def test_a_folder_keeps_its_good_files_and_skips_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "good.md").write_text(f"---\nname: Good One\ncolor: red\n---\n{PROMPT_A}\n")
    (tmp_path / "bad.md").write_text("no front matter")
    (tmp_path / "latin1.md").write_bytes(b"---\nname: \xe9\n---\n")
    (tmp_path / "huge.md").write_text("---\nname: h\n---\n" + "x" * files.MAX_FILE_BYTES)
    (tmp_path / "notes.txt").write_text("---\nname: t\n---\n")

    agents = discovery.read_folder(tmp_path, source="global")

    assert [(a.id, a.name, a.color, a.prompt) for a in agents] == [
        ("good", "Good One", "red", PROMPT_A)
    ]
    skipped = sorted(r.getMessage().split("path=")[1].split()[0] for r in caplog.records)
    assert [Path(p).name for p in skipped] == ["bad.md", "huge.md", "latin1.md"]


def test_a_missing_folder_is_no_agents(tmp_path: Path) -> None:
    assert discovery.read_folder(tmp_path / "absent", source="global") == []


def _read_folder_within(folder: Path, seconds: float = 5.0) -> list[discovery.Agent]:
    """read_folder in a thread, failing (not hanging) the test when it blocks."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(discovery.read_folder, folder, source="global").result(seconds)
    finally:
        pool.shutdown(wait=False)


def test_a_fifo_or_a_device_is_skipped_without_blocking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.mkfifo(tmp_path / "pipe.md")
    (tmp_path / "zero.md").symlink_to("/dev/zero")
    (tmp_path / "good.md").write_text(f"---\nname: good\n---\n{PROMPT_A}\n")

    agents = _read_folder_within(tmp_path)

    assert [a.id for a in agents] == ["good"]
    reasons = sorted(r.getMessage().split("reason=")[1] for r in caplog.records)
    assert reasons == ["a symlink", "not a regular file"]


def test_a_symlink_to_a_secret_is_not_read_and_nothing_of_it_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("---\nname: leak\n---\nroot-only contents\n")
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "leak.md").symlink_to(secret)
    (tmp_path / "agents" / "bad.md").write_text("---\nname: b\nsecret-token-line\n---\n")

    assert discovery.read_folder(tmp_path / "agents", source="global") == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "secret-token-line" not in logged and "root-only" not in logged
    assert "front matter line 3 is not `key: value`" in logged


def test_reading_stops_after_the_limit_whatever_the_size_said(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_bytes(b"x" * (files.MAX_FILE_BYTES + 10))

    with pytest.raises(files.UnsafeFile, match="larger than"):
        files.read_text(path)
    assert files.read_text(path, limit=files.MAX_FILE_BYTES + 10) == "x" * (
        files.MAX_FILE_BYTES + 10
    )


def test_a_workspace_whose_agents_folder_is_a_symlink_is_not_read(
    tmp_path: Path, settings: Any, db: None
) -> None:
    settings.AGENTS_DIR = tmp_path / "no-global"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.md").write_text("---\nname: x\n---\nPlanted prompt\n")
    linked = tmp_path / "linked"
    (linked / ".claude").mkdir(parents=True)
    (linked / ".claude" / "agents").symlink_to(elsewhere)
    real = tmp_path / "real"
    (real / ".claude" / "agents").mkdir(parents=True)
    (real / ".claude" / "agents" / "y.md").write_text("---\nname: y\n---\nReal prompt\n")
    Workspace.objects.create(path=str(linked), name="linked")
    Workspace.objects.create(path=str(real), name="real")

    assert [a.id for a in discovery.discover()] == ["real:y"]


def test_writing_never_goes_through_a_symlink_or_into_a_fifo(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("unchanged")
    (tmp_path / "link.md").symlink_to(target)
    os.mkfifo(tmp_path / "pipe.md")

    with pytest.raises(files.UnsafeFile, match="a symlink"):
        files.write_text(tmp_path / "link.md", "new")
    with pytest.raises(files.UnsafeFile, match="not a regular file"):
        files.write_text(tmp_path / "pipe.md", "new")
    assert target.read_text() == "unchanged"


def test_a_broken_file_is_warned_about_once_until_its_reason_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bad.md").write_text("no front matter")
    caplog.set_level("DEBUG", logger="agents.discovery")

    for _ in range(3):
        discovery.read_folder(tmp_path, source="global")
    (tmp_path / "bad.md").write_text("---\nname: x\n")
    discovery.read_folder(tmp_path, source="global")

    levels = [r.levelname for r in caplog.records if "file_skipped" in r.getMessage()]
    assert levels == ["WARNING", "DEBUG", "DEBUG", "WARNING"]


@pytest.mark.django_db
@pytest.mark.usefixtures("prices")
def test_an_agent_asking_for_an_unknown_model_is_warned_about_once(
    tmp_path: Path, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Was: a warning at every reload, every AGENTS_CACHE_SECONDS for as long as it ran.
    settings.AGENTS_DIR = tmp_path
    (tmp_path / "odd.md").write_text(f"---\nname: odd\nmodel: gpt-4o\n---\n{'p' * 40}\n")
    caplog.set_level("DEBUG", logger="agents.discovery")

    for _ in range(3):
        registry.build()

    levels = [r.levelname for r in caplog.records if "model_unknown agent=odd" in r.getMessage()]
    assert levels == ["WARNING", "DEBUG", "DEBUG"]


def test_a_file_whose_prompt_is_too_short_to_match_is_listed_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "short.md").write_text("---\nname: short\nmodel: opus\n---\na\n")

    first = discovery.read_folder(tmp_path, source="global")
    again = discovery.read_folder(tmp_path, source="global")

    assert [a.id for a in first] == [a.id for a in again] == ["short"]
    assert not discovery.matchable(first[0])
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [
        f"agents.prompt_too_short path={tmp_path / 'short.md'} reason=under "
        f"{discovery.MIN_PROMPT_CHARS} characters: never matched"
    ]
