"""What agent detection costs per request, in process: `.venv/bin/python bench/agents_detect.py`.

`make bench` measures the proxy end to end with requests that have no system prompt (they
pay one substring search). This measures the other case on a Claude Code-sized body (a long
conversation, a 15 KB system prompt, 20 tool definitions) against 20 agents: finding the
system text, the workspace folders, the agent (first time and cached), and the rewrite.
"""

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from agents import override  # noqa: E402
from agents.discovery import Agent  # noqa: E402
from agents.registry import Snapshot  # noqa: E402

AGENTS = [
    Agent(
        id=f"agent-{n}", name=f"agent-{n}", description="", color="gray", model="haiku",
        prompt=f"You are agent {n}. " + "Follow the team's conventions carefully. " * 20,
        source="global",
    )
    for n in range(20)
]  # fmt: skip
SNAPSHOT = Snapshot(agents=tuple(AGENTS), targets={a.id: "claude-haiku-5-5" for a in AGENTS})


def claude_code_body(*, system: bool) -> bytes:
    turns = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": "Some work to do. " * 150}
        for i in range(100)
    ]
    turns[0]["content"] = "Contents of /home/dev/project/CLAUDE.md (project instructions)\n# Notes"
    body = {
        "model": "claude-sonnet-4-6",
        "messages": turns,
        "tools": [
            {"name": f"tool{i}", "description": "d" * 500, "input_schema": {"type": "object"}}
            for i in range(20)
        ],
        "max_tokens": 32000,
        "stream": True,
    }
    if system:
        text = "You are Claude Code. " * 700 + AGENTS[13].prompt
        body["system"] = [{"type": "text", "text": text}]
    return json.dumps(body).encode()


def per_call_us(function: Callable[[], object], repeat: int = 300) -> float:
    function()
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat * 1e6


def main() -> None:
    logging.disable(logging.INFO)  # the rewrite logs a line per call
    plain, with_system = claude_code_body(system=False), claude_code_body(system=True)
    at = with_system.find(b'"system"')
    system = override._system_text(with_system, at) or ""
    cache = override._MatchCache(512)
    rows = [
        ("no system prompt: the whole check", lambda: plain.find(b'"system"')),
        ("finding the system key", lambda: with_system.find(b'"system"')),
        ("system text from the body", lambda: override._system_text(with_system, at)),
        ("workspace folders named", lambda: override._workspace_folders(with_system, system)),
        ("agent search, uncached", lambda: SNAPSHOT.match(system)),
        ("agent search, cached", lambda: cache.match(SNAPSHOT, system)),
        ("model rewrite", lambda: override._override(SNAPSHOT, AGENTS[13], with_system)),
    ]
    print(f"body {len(with_system) // 1024} KB, system prompt {len(system) // 1024} KB, 20 agents")
    for name, function in rows:
        print(f"{name:38} {per_call_us(function):9.1f} µs")


if __name__ == "__main__":
    main()
