"""Claude Code agent files: `---`, `key: value` lines, `---`, then the agent's system prompt.

Parsing is forgiving where Claude Code is (indented lines continue the previous value,
quotes around a value are dropped) and strict where a guess would be wrong: no front
matter, or no `name`, makes the file unusable (AgentFileError), never a crash.
"""

from dataclasses import dataclass

# Claude Code's tool names (SPEC §11), and the presets the dashboards offer.
TOOLS = (
    "Bash",
    "Glob",
    "Grep",
    "LS",
    "Read",
    "Edit",
    "MultiEdit",
    "Write",
    "NotebookRead",
    "NotebookEdit",
    "WebFetch",
    "TodoWrite",
    "WebSearch",
)
PRESETS: dict[str, tuple[str, ...] | None] = {
    "all": None,  # no `tools` key at all
    "edit": ("Edit", "MultiEdit", "Write", "NotebookEdit"),
    "read-only": (
        "Glob",
        "Grep",
        "LS",
        "Read",
        "NotebookRead",
        "WebFetch",
        "TodoWrite",
        "WebSearch",
    ),
    "execution": ("Bash",),
}
COLORS = (
    "gray", "blue", "green", "yellow", "orange", "red", "purple", "pink", "indigo", "cyan",
)  # fmt: skip


class AgentFileError(ValueError):
    """The file is not a usable agent definition; the message says why."""


@dataclass(frozen=True, slots=True)
class AgentFile:
    fields: dict[str, str]
    prompt: str  # everything after the closing `---`

    @property
    def tools(self) -> tuple[str, ...] | None:
        raw = self.fields.get("tools", "").strip()
        return tuple(t.strip() for t in raw.split(",") if t.strip()) if raw else None


def parse(text: str) -> AgentFile:
    """The front matter and prompt of an agent file; raises AgentFileError."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise AgentFileError("no front matter (the file must start with ---)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise AgentFileError("front matter is not closed by ---") from None
    fields = _fields(lines[1:end], first_number=2)
    if not fields.get("name", "").strip():
        raise AgentFileError("front matter has no name")
    return AgentFile(fields=fields, prompt="\n".join(lines[end + 1 :]).strip())


def _fields(lines: list[str], *, first_number: int) -> dict[str, str]:
    """The `key: value` lines; an error names a bad line by number, never by its text
    (the file may not be meant to be read: the message reaches the log)."""
    fields: dict[str, str] = {}
    key = None
    for number, line in enumerate(lines, start=first_number):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[:1] in (" ", "\t") and key is not None:
            fields[key] = f"{fields[key]} {line.strip()}".strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise AgentFileError(f"front matter line {number} is not `key: value`")
        key = name.strip().lower()
        fields[key] = _unquote(value.strip())
    return fields


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def render(fields: dict[str, str], prompt: str) -> str:
    """An agent file from its fields and prompt (what PATCH /api/agents/{id} writes)."""
    lines = ["---"]
    for key, value in fields.items():
        one_line = " ".join(str(value).split())
        if one_line:
            lines.append(f"{key}: {one_line}")
    lines += ["---", "", prompt.strip(), ""]
    return "\n".join(lines)
