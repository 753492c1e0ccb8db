"""Agent files (front matter, discovery) and the model catalog from the price table."""

from pathlib import Path

import pytest

from agents import catalog, discovery, frontmatter
from analytics.price_seed import SEED_PRICES


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
        ("---\nname: x\njust words\n---\n", "not `key: value`"),
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
    (tmp_path / "good.md").write_text("---\nname: Good One\ncolor: red\n---\nPrompt A\n")
    (tmp_path / "bad.md").write_text("no front matter")
    (tmp_path / "latin1.md").write_bytes(b"---\nname: \xe9\n---\n")
    (tmp_path / "huge.md").write_text("---\nname: h\n---\n" + "x" * discovery.MAX_FILE_BYTES)
    (tmp_path / "notes.txt").write_text("---\nname: t\n---\n")

    agents = discovery.read_folder(tmp_path, source="global")

    assert [(a.id, a.name, a.color, a.prompt) for a in agents] == [
        ("good", "Good One", "red", "Prompt A")
    ]
    skipped = sorted(r.getMessage().split("path=")[1].split()[0] for r in caplog.records)
    assert [Path(p).name for p in skipped] == ["bad.md", "huge.md", "latin1.md"]


def test_a_missing_folder_is_no_agents(tmp_path: Path) -> None:
    assert discovery.read_folder(tmp_path / "absent", source="global") == []
