"""One request in full: timing, tokens, cost, routing trace, conversation, raw bodies."""

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from lib import conversation
from lib.secret_headers import REDACTED, is_secret
from tui import format
from tui.client import ApiProblem, safe_text
from tui.views.shared import shared

ROLE_STYLES = {"system": "magenta", "user": "cyan", "assistant": "green"}


class RequestDetail(Screen):
    BINDINGS = [Binding("escape", "close", "Back"), Binding("b", "close", "Back")]
    CSS = "RequestDetail Static.section { margin-top: 1; text-style: bold; color: $accent; }"

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(Text(f"Request {self.request_id} …"), id="detail-body")
        yield Footer()

    async def on_mount(self) -> None:
        body = self.query_one("#detail-body", Static)
        path = f"/api/requests/{self.request_id}"
        try:
            detail = await shared(self).client.get(path)
        except ApiProblem as problem:
            body.update(Text(str(problem), style="red"))
            return
        if not isinstance(detail, dict):
            body.update(Text(f"{path} answered something that is not a request", style="red"))
            return
        body.update(render(detail))
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.app.pop_screen()


def render(detail: dict) -> RenderableType:
    """The request as the screen shows it; a field of an unexpected type reads as missing."""
    payload = mapping(detail.get("payload"))
    sent, answered = mapping(payload.get("request")), mapping(payload.get("response"))
    request_body = conversation.decode_body(text_or_none(sent.get("body")))
    response_body = conversation.decode_body(text_or_none(answered.get("body")))
    trace = detail.get("routingTrace")
    return Group(
        *summary(detail),
        heading("Routing"),
        *routing(trace if isinstance(trace, list) else []),
        heading("Conversation"),
        *messages(conversation.build(request_body, response_body)),
        heading("Request"),
        Text(headers_text(sent.get("headers"))),
        Text(safe_text(conversation.pretty(request_body)) or "(not captured)"),
        heading(f"Response {answered.get('status') or ''}"),
        Text(headers_text(answered.get("headers"))),
        Text(safe_text(conversation.pretty(response_body)) or "(not captured)"),
    )


def mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def heading(title: str) -> Text:
    return Text(f"\n── {title} ", style="bold")


def summary(detail: dict) -> list[Text]:
    fields = [
        ("when", format.clock(detail.get("timestamp"))),
        ("request", f"{detail.get('method')} {detail.get('path')}"),
        ("status", f"{detail.get('statusCode')} ({detail.get('terminalState') or '—'})"),
        ("account", str(detail.get("accountUsed") or "—")),
        ("model", str(detail.get("model") or "—")),
        ("took", format.millis(detail.get("responseTimeMs"))),
        ("first token", format.millis(detail.get("timeToFirstTokenMs"))),
        ("speed", format.speed(detail.get("tokensPerSecond"))),
        (
            "tokens",
            f"in {detail.get('inputTokens') or 0} · out {detail.get('outputTokens') or 0} · "
            f"cache read {detail.get('cacheReadInputTokens') or 0} · "
            f"cache write {detail.get('cacheCreationInputTokens') or 0}",
        ),
        ("cost", "unpriced" if detail.get("unpriced") else format.cost(detail.get("costUsd"))),
        ("failovers", str(detail.get("failoverAttempts") or 0)),
    ]
    lines = [Text.assemble((f"{label:>12} ", "dim"), value) for label, value in fields]
    if detail.get("errorMessage"):
        lines.append(Text.assemble(("       error ", "dim"), (str(detail["errorMessage"]), "red")))
    return lines


def routing(trace: list) -> list[Text]:
    if not trace:
        return [Text("(served by the first account tried)", style="dim")]
    return [
        Text.assemble(
            (f"{n:>3}. ", "dim"),
            (str(step.get("account") or "—"), "bold"),
            f"  {step.get('outcome')}",
        )
        for n, step in enumerate(trace, start=1)
        if isinstance(step, dict)
    ]


def messages(built: list[conversation.Message]) -> list[Text]:
    if not built:
        return [Text("(no conversation captured)", style="dim")]
    lines = []
    for message in built:
        style = f"bold {ROLE_STYLES.get(message.role, '')}"
        lines.append(Text(safe_text(message.role), style=style))
        for block in message.blocks:
            # Decoded here from the captured bodies: the API's JSON escaping never saw them.
            label = {"tool_use": f"tool call {block.name}", "tool_result": "tool result"}
            prefix = label.get(block.kind, "" if block.kind == "text" else block.kind)
            text = Text("  ")
            if prefix:
                text.append(f"[{safe_text(prefix)}] ", style="red" if block.is_error else "yellow")
            text.append(safe_text(block.text))
            lines.append(text)
    return lines


def headers_text(headers: object) -> str:
    if not isinstance(headers, dict):
        return ""
    return "\n".join(f"{k}: {redacted(k, v)}" for k, v in headers.items())


def redacted(name: str, value: object) -> str:
    # The server redacts credentials already when it records; masked here again so that
    # no path shows one.
    return REDACTED if is_secret(name.lower()) else str(value)
