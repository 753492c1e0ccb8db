"""Which folders named in requests become workspaces, and under which name.

Any client of the proxy can name any path, and a workspace's agents then apply to every
request: so a folder is registered only under the rules of `qualified`, at one spelling
(`normalised`), and under a name no other workspace has (`unique_name`). Reads the
file system and the database: call it from a thread, never on the event loop.
"""

import hashlib
import logging
import os
from pathlib import Path

from django.utils import timezone

from agents import files
from agents.models import Workspace

logger = logging.getLogger(__name__)

# Never workspaces, however they are spelled or where a symlink leads.
FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev")


def normalised(path: str) -> str | None:
    """`path` as one spelling per folder (`/tmp//x/` is `/tmp/x`), or None when it is not
    an absolute path one can store and log (a control character, a lone surrogate)."""
    if not path.startswith("/") or any(ord(c) < 32 for c in path):
        return None
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return None
    path = "/" + os.path.normpath(path).lstrip("/")  # POSIX keeps a leading "//"
    return path if path != "/" else None


def _forbidden(path: str) -> bool:
    return any(path == root or path.startswith(f"{root}/") for root in FORBIDDEN_ROOTS)


def qualified(path: str) -> str | None:
    """The real path of a folder that may be a workspace, or None.

    Any client can name a folder, so one qualifies only when it (and where its symlinks
    lead) is outside /proc, /sys and /dev, is owned by the user the server runs as (another
    local user cannot plant agents for this server to apply), and holds a
    `.claude/agents` folder or a CLAUDE.md (no rows for folders with nothing to read).
    """
    if _forbidden(path):
        return None
    real = os.path.realpath(path)
    owner = os.geteuid()
    if normalised(real) != real or _forbidden(real) or not files.is_own_folder(real, owner=owner):
        return None
    if files.checked_folder(Path(real), ".claude", "agents", owner=owner):
        return real
    return real if files.is_regular(Path(real) / "CLAUDE.md") else None


def readable(path: str) -> bool:
    """Whether a registered workspace's agents are read: the rules of `qualified` again at
    each reload (a row from before them, or a folder changed since), without resolving:
    none of the workspace, its .claude and .claude/agents may be a symlink now."""
    if normalised(path) != path or _forbidden(path):
        return False
    return files.checked_folder(Path(path), ".claude", "agents", owner=os.geteuid())


def save(folders: list[str]) -> int:
    """Create or touch each of the folders that qualify; return how many are new."""
    added = 0
    now = timezone.now()
    for folder in filter(None, map(qualified, folders)):
        if Workspace.objects.filter(path=folder).update(last_seen=now):
            continue
        Workspace.objects.create(path=folder, name=unique_name(folder), last_seen=now)
        logger.info("agents.workspace_registered path=%s", folder)
        added += 1
    return added


def unique_name(path: str) -> str:
    """The folder's name, with a short suffix from its path when another workspace has
    that name: agent ids (`<name>:<file>`) never collide, and an existing id keeps its
    meaning (the workspace registered first keeps the plain name)."""
    name = Path(path).name or path
    if Workspace.objects.filter(name=name).exclude(path=path).exists():
        return suffixed(name, path)
    return name


def suffixed(name: str, path: str) -> str:
    return f"{name}-{hashlib.sha256(path.encode()).hexdigest()[:6]}"
