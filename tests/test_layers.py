"""Imports point down only (docs/architecture.md): a test fails if a forbidden one comes back.

Every import in the apps is read from the source (top-level and inside functions alike),
so a lazy import cannot hide a cycle.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "ccflare_site"
# What each package may import of the project's own packages, besides itself.
ALLOWED: dict[str, frozenset[str]] = {
    "lib": frozenset(),
    "access": frozenset({"lib"}),
    "accounts": frozenset({"lib"}),
    "analytics": frozenset({"lib", "accounts", "access"}),
    # The price table (model choices), the default agent model, the recorded requests.
    "agents": frozenset({"lib", "analytics"}),
    "proxy": frozenset({"lib", "accounts", "analytics", "access", "agents"}),
    # The TUI talks to the server over HTTP; `access` only for its local API token.
    "tui": frozenset({"lib", "access"}),
}
OWN = frozenset({*ALLOWED, PROJECT})


def imported_packages(path: Path) -> set[str]:
    """The project packages `path` imports (first dotted component), relative imports aside."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & OWN


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported in sorted(imported_packages(path) - ALLOWED[package] - {package}):
            found.append(f"{path.relative_to(ROOT)} imports {imported}")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down_only(package: str) -> None:
    assert violations(package) == []


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(
        "import os\nfrom analytics import events\n"
        "def later():\n    from ccflare_site.api import api\n    import proxy.handler\n"
    )
    assert imported_packages(module) == {"analytics", PROJECT, "proxy"}
