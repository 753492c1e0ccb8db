"""Finding the agents: global files, each workspace's files, and those defined in the admin.

Reads files and the database: call it from a thread, never on the event loop.
A file that cannot be used is skipped with a warning; it never fails a request.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from agents import files, frontmatter, workspaces
from agents.models import AgentDefinition, Workspace

logger = logging.getLogger(__name__)

# An agents folder holding more is not an agents folder (a mistyped AGENTS_DIR, say).
MAX_FILES_PER_FOLDER = 500
# An agent is told from its requests by its prompt being in them: a shorter prompt (a word
# or two) is in nearly every request, so such an agent is listed but never matched.
MIN_PROMPT_CHARS = 24
# Files already warned about, with the reason: each reload reads every file again, and a
# file that stays broken is logged once (then at debug level), not every 30 seconds.
_warned: set[tuple[str, str]] = set()
_MAX_WARNED = 10_000


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    description: str
    color: str
    model: str  # the agent's own choice: a model id, a shorthand, inherit, or "" for none
    prompt: str
    source: str  # "global", "workspace" or "admin"
    workspace: str | None = None  # the workspace's name
    workspace_path: str | None = None
    tools: tuple[str, ...] | None = None
    file_path: str | None = None


def discover() -> list[Agent]:
    """Every agent, global files first, then workspaces', then the admin's; first id wins."""
    found: dict[str, Agent] = {}
    candidates = read_folder(global_folder(), source="global")
    names: set[str] = set()
    for workspace in Workspace.objects.order_by("pk"):
        if not workspaces.readable(workspace.path):
            continue
        # Registration gives distinct names; rows from before it may share one, and the
        # first registered keeps it (its agents' ids keep their meaning).
        if workspace.name in names:
            workspace.name = workspaces.suffixed(workspace.name, workspace.path)
        names.add(workspace.name)
        folder = Path(workspace.path) / ".claude" / "agents"
        candidates += read_folder(folder, source="workspace", workspace=workspace)
    candidates += [from_definition(d) for d in AgentDefinition.objects.all()]
    for agent in candidates:
        found.setdefault(agent.id, agent)
    return list(found.values())


def _skipped(path: Path, reason: str) -> None:
    warn_once("agents.file_skipped", f"path={path} reason={reason}")


def warn_once(event: str, details: str) -> None:
    """A warning the first time, then at debug level: the files are read again, and the
    agents resolved again, every AGENTS_CACHE_SECONDS."""
    key = (event, details)
    if key in _warned:
        logger.debug("%s %s", event, details)
        return
    if len(_warned) >= _MAX_WARNED:
        _warned.clear()
    _warned.add(key)
    logger.warning("%s %s", event, details)


def global_folder() -> Path:
    """AGENTS_DIR with its symlinks resolved: the operator chose it (a ~/.claude kept in a
    dotfiles repository is common); the files in it follow the rules of agents.files."""
    return Path(settings.AGENTS_DIR).expanduser().resolve()


def read_folder(folder: Path, *, source: str, workspace: Workspace | None = None) -> list[Agent]:
    try:
        paths = sorted(folder.glob("*.md"))[:MAX_FILES_PER_FOLDER] if folder.is_dir() else []
    except OSError as exc:
        logger.warning("agents.folder_unreadable folder=%s error=%s", folder, exc)
        return []
    agents = []
    for path in paths:
        agent = read_file(path, source=source, workspace=workspace)
        if agent is not None:
            agents.append(agent)
    return agents


def matchable(agent: Agent) -> bool:
    """Whether requests can be told to be this agent's: its prompt is long enough."""
    return len(agent.prompt) >= MIN_PROMPT_CHARS


def read_file(path: Path, *, source: str, workspace: Workspace | None = None) -> Agent | None:
    """The agent a file defines, or None (logged) when it cannot be read or parsed."""
    try:
        parsed = frontmatter.parse(files.read_text(path))
    except (OSError, UnicodeDecodeError, frontmatter.AgentFileError) as exc:
        _skipped(path, files.reason(exc))
        return None
    if 0 < len(parsed.prompt) < MIN_PROMPT_CHARS:
        warn_once(
            "agents.prompt_too_short",
            f"path={path} reason=under {MIN_PROMPT_CHARS} characters: never matched",
        )
    fields = parsed.fields
    base = path.stem
    return Agent(
        id=f"{workspace.name}:{base}" if workspace is not None else base,
        name=fields["name"],
        description=fields.get("description", ""),
        color=fields.get("color", "gray") if fields.get("color") in frontmatter.COLORS else "gray",
        model=fields.get("model", "").strip(),
        prompt=parsed.prompt,
        source=source,
        workspace=workspace.name if workspace is not None else None,
        workspace_path=workspace.path if workspace is not None else None,
        tools=parsed.tools,
        file_path=str(path),
    )


def from_definition(definition: AgentDefinition) -> Agent:
    return Agent(
        id=f"admin:{definition.name}",
        name=definition.name,
        description=definition.description,
        color="gray",
        model=definition.model,
        prompt=definition.prompt.strip(),
        source="admin",
    )
