"""The proxy's one call: detect a Claude Code sub-agent in a request and put it on its model.

Cost (docs/architecture.md, the hot path): a body without a `"system"` key pays one
substring search. Otherwise only the `system` value is decoded (not the whole body),
the agent found for a given system text is remembered, and a rewrite replaces the bytes
of the top-level `model` value, leaving every other byte as the client sent it. The
body is searched for workspace folders only with a system text not seen before: Claude
Code's system prompt names its working directory, so a new workspace comes with a new
text, and the search (80 µs on a 276 KB body, bench/agents_detect.py) is not repeated
on every turn of a conversation.
"""

import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass

from agents import discovery, workspaces
from agents.registry import Snapshot, registry
from analytics.recording.write_behind import RequestRecord

logger = logging.getLogger(__name__)

_SYSTEM = b'"system"'
_SYSTEM_KEY = re.compile(rb'"system"\s*:\s*')
_MODEL_VALUE = re.compile(rb'"model"\s*:\s*("(?:[^"\\]|\\.){0,200}")')
# A JSON string or a bracket: enough to know the nesting depth at a position.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]')
# Workspace folders named in prompts (SPEC §11): `<path>/.claude/agents` and the
# `Contents of <path>/CLAUDE.md` that Claude Code puts in the first user message.
_AGENTS_FOLDER = re.compile(r"(/[^\s\"'\]\[]*?)/\.claude/agents(?=[\s\"'\]]|$)")
_CLAUDE_MD = re.compile(rb"Contents of (/[^\n\"]{1,1000}?)/CLAUDE\.md")
_decoder = json.JSONDecoder()
_MATCH_CACHE_SIZE = 512
# Distinct folders taken from one body: Claude Code names one or two; a body naming
# thousands is not searched to its end.
_MAX_FOLDERS_NAMED = 64


@dataclass(frozen=True, slots=True)
class Override:
    agent: str  # the agent's id
    original_model: str | None
    model: str | None  # the model the request now asks for; None: left alone
    body: bytes


async def detect(body: bytes) -> Override | None:
    """The agent a Messages request comes from, and the body to send; None when no agent.

    Any surprise in the body leaves it alone: this must never fail a request.
    """
    first = body.find(_SYSTEM)
    if first < 0:
        return None
    try:
        system = _system_text(body, first)
        if system is None:
            return None
        snapshot = await registry.current()
        new_text = not _matches.knows(snapshot, system)
        if new_text and await registry.register_workspaces(_workspace_folders(body, system)):
            logger.info("agents.reloaded_for_new_workspace")
            snapshot = await registry.current()
        agent = _matches.match(snapshot, system)
        return None if agent is None else _override(snapshot, agent, body)
    except Exception:
        logger.exception("agents.detection_failed")
        return None


def _system_text(body: bytes, first: int) -> str | None:
    """The top-level `system` prompt as text (a string, or its text blocks joined); None
    when there is none, or the body is not JSON that can be read.

    `first` is where `"system"` first occurs. When it is the only occurrence and a key,
    only its value is decoded; otherwise the whole body is parsed to find the top level.
    """
    key = _SYSTEM_KEY.match(body, first)
    try:
        if key is not None and body.find(_SYSTEM, first + 1) < 0:
            value, _ = _decoder.raw_decode(body[key.end() :].decode("utf-8", "replace"))
        else:
            data = json.loads(body)
            value = data.get("system") if isinstance(data, dict) else None
    except (ValueError, RecursionError):
        # The client's own error (the upstream answers it with a 400), not ours to log:
        # it was an ERROR with a traceback for every such request.
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [b.get("text") for b in value if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(t for t in texts if isinstance(t, str))
    return None


def _workspace_folders(body: bytes, system: str) -> set[str]:
    """The folders a request names, each spelled once (workspaces.normalised); a path
    that cannot be a folder name here (a lone surrogate, say) is left out."""
    folders: set[str] = set()

    def add(path: str | None) -> bool:
        found = workspaces.normalised(path) if path else None
        if found is not None:
            folders.add(found)
        return len(folders) < _MAX_FOLDERS_NAMED

    if "/.claude/agents" in system:
        for named in _AGENTS_FOLDER.finditer(system):
            if not add(named.group(1)):
                return folders
    if b"CLAUDE.md" in body:
        for quoted in _CLAUDE_MD.finditer(body):
            if not add(_json_string(quoted.group(1))):
                break
    return folders


def _json_string(raw: bytes) -> str | None:
    """Raw bytes from inside a JSON string as text: escapes (`\\/`, `\\u00fc`) decoded."""
    try:
        value = json.loads(b'"' + raw + b'"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


class _MatchCache:
    """The agent found per system text, for the current snapshot only.

    The same sub-agent sends the same system prompt on every turn, so each text is
    searched for agents once. Keyed by the text's hash and length, not the text (tens
    of KB each); a new snapshot empties it.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._owner: Snapshot | None = None
        self._found: OrderedDict[tuple[int, int], discovery.Agent | None] = OrderedDict()

    def knows(self, snapshot: Snapshot, system: str) -> bool:
        """Whether this text was matched against this snapshot already."""
        return snapshot is self._owner and _text_key(system) in self._found

    def match(self, snapshot: Snapshot, system: str) -> discovery.Agent | None:
        if snapshot is not self._owner:
            self._owner, self._found = snapshot, OrderedDict()
        key = _text_key(system)
        if key in self._found:
            self._found.move_to_end(key)
            return self._found[key]
        agent = self._found[key] = snapshot.match(system)
        if len(self._found) > self._size:
            self._found.popitem(last=False)
        return agent


def _text_key(system: str) -> tuple[int, int]:
    return hash(system), len(system)


_matches = _MatchCache(_MATCH_CACHE_SIZE)


def _override(snapshot: Snapshot, agent: discovery.Agent, body: bytes) -> Override:
    span = _model_span(body)
    original = json.loads(body[span[0] : span[1]]) if span is not None else None
    target = snapshot.targets.get(agent.id)
    if target is None or span is None or original == target:
        return Override(agent=agent.id, original_model=original, model=None, body=body)
    logger.info("agents.model_changed agent=%s from=%s to=%s", agent.id, original, target)
    new_body = body[: span[0]] + json.dumps(target).encode() + body[span[1] :]
    return Override(agent=agent.id, original_model=original, model=target, body=new_body)


def _model_span(body: bytes) -> tuple[int, int] | None:
    """Where the top-level `model` string value sits in the raw body (quotes included).

    SDKs and Claude Code send `model` as the first key: then nothing else is scanned.
    Otherwise each `"model": "..."` found is checked for being at the top level.
    """
    first = body.find(b'"model"')
    if first < 0:
        return None
    if body[:first].strip() == b"{":
        found = _MODEL_VALUE.match(body, first)
        return found.span(1) if found is not None else None
    starts = {m.start(): m for m in _MODEL_VALUE.finditer(body, first)}
    if len(starts) == 1 and body.count(b"{", 0, first) == 1:
        return next(iter(starts.values())).span(1)
    depth = 0
    for token in _JSON_TOKEN.finditer(body):
        char = token.group()[:1]
        if char in b"{[":
            depth += 1
        elif char in b"}]":
            depth -= 1
        elif depth == 1 and token.start() in starts:
            return starts[token.start()].span(1)
    return None


async def apply(body: bytes, record: RequestRecord) -> bytes:
    """The body to send upstream for a request; notes a detected agent on its record."""
    if record.method != "POST" or not record.path.startswith("/v1/messages"):
        return body
    found = await detect(body)
    if found is None:
        return body
    record.agent_used = found.agent
    if found.model is not None:
        record.original_model = found.original_model
        record.routing_trace.append(
            {
                "account": None,
                "agent": found.agent,
                "outcome": f"model {found.original_model} changed to {found.model} for this agent",
            }
        )
    return found.body
