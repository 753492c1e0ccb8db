"""The agents as the proxy sees them: a snapshot reloaded when older than AGENTS_CACHE_SECONDS.

A snapshot holds each agent with the model id its requests go to (its preference, else
its own file's or definition's model, else the default agent model), resolved once per
load against the price table, so the hot path only compares strings. Changes made in
this process (API, admin, dashboard) invalidate it at once.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections

from agents import discovery, workspaces
from agents.catalog import INHERIT, Catalog, UnknownModel
from agents.catalog import load as load_catalog
from agents.models import AgentPreference, Workspace
from analytics.operations import runtime
from lib.reloading import Reloader

logger = logging.getLogger(__name__)

# One thread: loads and workspace registrations never race each other.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agents")

# Folders one request may have looked at: a body naming thousands costs no more.
MAX_NEW_FOLDERS_PER_REQUEST = 8


@dataclass(frozen=True)
class Snapshot:
    agents: tuple[discovery.Agent, ...] = ()
    # agent id -> the model id its requests go to; absent: leave the request alone
    targets: dict[str, str] = field(default_factory=dict)
    # agent id -> the model chosen (preference, file, default) before resolution
    chosen: dict[str, str] = field(default_factory=dict)
    preferences: dict[str, str] = field(default_factory=dict)
    default_model: str = INHERIT
    catalog: Catalog = field(default_factory=lambda: Catalog(()))
    workspaces: tuple[str, ...] = ()  # their paths

    def match(self, text: str) -> discovery.Agent | None:
        """The agent whose prompt is in `text`; the longest prompt wins (the most specific).

        A prompt under discovery.MIN_PROMPT_CHARS is never matched: one of a word or two
        (`a`) is in nearly every request, and took ordinary requests over to its model.
        """
        found = [a for a in self.agents if discovery.matchable(a) and a.prompt in text]
        return max(found, key=lambda a: len(a.prompt), default=None)


def build() -> Snapshot:
    """Read files, preferences, the default and the price table (from a thread)."""
    table = load_catalog()
    default = runtime.default_agent_model()
    preferences = dict(AgentPreference.objects.values_list("agent_id", "model"))
    agents = tuple(discovery.discover())
    targets, chosen = {}, {}
    for agent in agents:
        choice = preferences.get(agent.id) or agent.model or default
        chosen[agent.id] = choice
        try:
            target = table.resolve(choice)
        except UnknownModel as exc:
            # Once per agent and model: this runs every AGENTS_CACHE_SECONDS.
            discovery.warn_once("agents.model_unknown", f"agent={agent.id} {exc}")
            continue
        if target is not None:
            targets[agent.id] = target
    return Snapshot(
        agents=agents,
        targets=targets,
        chosen=chosen,
        preferences=preferences,
        default_model=default,
        catalog=table,
        workspaces=tuple(Workspace.objects.values_list("path", flat=True)),
    )


class Registry:
    def __init__(self) -> None:
        self._snapshot = Snapshot()
        # The last snapshot serves while the database or the folder is away.
        self._reloader = Reloader(
            self._do_reload,
            max_age=lambda: settings.AGENTS_CACHE_SECONDS,
            logger=logger,
            name="agents.reload",
        )
        # Workspace folders already looked at (registered or not on this machine),
        # so a prompt naming them costs a set lookup, not a stat and a query.
        self._seen_folders: set[str] = set()

    async def current(self) -> Snapshot:
        await self._reloader.fresh()
        return self._snapshot

    def invalidate(self) -> None:
        """Reload on next use (a preference, definition or default changed here)."""
        self._reloader.invalidate()

    async def _do_reload(self) -> None:
        self._snapshot = await _in_thread(build)

    async def register_workspaces(self, folders: set[str]) -> bool:
        """Register the folders not looked at before that qualify (agents.workspaces); True
        if one was new. At most MAX_NEW_FOLDERS_PER_REQUEST are looked at per call;
        `folders` are spelled as `workspaces.normalised` returns them."""
        new = sorted(folders - self._seen_folders)[:MAX_NEW_FOLDERS_PER_REQUEST]
        if not new:
            return False
        if len(self._seen_folders) > 10_000:  # a bound, against prompts naming endless paths
            self._seen_folders.clear()
        self._seen_folders.update(new)
        # The folders are checked in the thread too: a stat can block (a network mount).
        added = await _in_thread(workspaces.save, new)
        if added:
            self.invalidate()
        return added > 0


async def _in_thread(function, *args):  # type: ignore[no-untyped-def]
    def run():  # type: ignore[no-untyped-def]
        close_old_connections()
        return function(*args)

    return await asyncio.get_running_loop().run_in_executor(_executor, run)


registry = Registry()
