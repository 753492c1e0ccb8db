"""The Agents page in a real browser: list, choose a model, the default, live counts."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agents.models import AgentPreference
from analytics.models import RuntimeSetting
from tests.conftest import ProxyServer
from tests.dashboard.conftest import screenshot, wait_live
from tests.factories import make_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("prices")]

PROMPT = "You review pull requests for security problems and report each finding."


@pytest.fixture
def reviewer(proxy: ProxyServer) -> Iterator[Path]:
    folder = Path(proxy.env["AGENTS_DIR"])
    folder.mkdir(exist_ok=True)
    path = folder / "security-reviewer.md"
    path.write_text(
        "---\nname: security-reviewer\ndescription: Reviews diffs for security holes\n"
        f"model: haiku\ncolor: red\n---\n{PROMPT}\n"
    )
    yield path
    path.unlink()


def send_as_agent(proxy: ProxyServer) -> httpx.Response:
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "system": [{"type": "text", "text": f"You are Claude Code.\n{PROMPT}"}],
        "messages": [{"role": "user", "content": "review this"}],
    }
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "client-key"}
    return httpx.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=20)


def test_the_agents_page_sets_models_and_counts_requests_live(
    page: object, proxy: ProxyServer, reviewer: Path
) -> None:
    make_account(name="work", api_key="sk-ant-api03-agents-page-0001")
    page.goto(f"{proxy.url}/dashboard/agents/")
    wait_live(page)
    row = page.wait_for_selector('[data-agent-row="security-reviewer"]')
    assert "claude-haiku-5-5" in row.inner_text()
    assert page.inner_text("[data-count-global]") == "1"

    page.select_option('[data-agent-model="security-reviewer"]', "opus")
    page.wait_for_selector('[data-agent-row="security-reviewer"] td.mono:text("claude-opus-5-5")')
    assert AgentPreference.objects.get(agent_id="security-reviewer").model == "opus"

    page.select_option("[data-default-model]", "sonnet")
    page.wait_for_selector('[data-banner]:text("Default agent model: sonnet.")')
    assert RuntimeSetting.objects.get(key="default_agent_model").value == "sonnet"

    page.evaluate("window.__noReload = true")
    assert send_as_agent(proxy).status_code == 200
    page.wait_for_selector('[data-agent-requests="security-reviewer"]:text("1")', timeout=10_000)
    assert page.evaluate("window.__noReload === true")
    screenshot(page, "agents", full_page=True)

    page.click('[data-tabs] [data-source="workspace"]')
    assert page.query_selector('[data-agent-row="security-reviewer"]') is None
    assert page.errors == []
