"""The agents admin: definitions and preferences take only models the price table knows."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from agents.models import AgentDefinition, AgentPreference, Workspace

pytestmark = pytest.mark.usefixtures("prices")

PROMPT = "You triage incoming bug reports and label them by component."


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def test_a_definition_with_a_known_model_is_saved(admin_client: Client) -> None:
    url = reverse("admin:agents_agentdefinition_add")
    form = {"name": "triage", "description": "", "prompt": PROMPT, "model": "haiku"}

    response = admin_client.post(url, form)

    assert response.status_code == 302
    assert AgentDefinition.objects.get().model == "haiku"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"model": "gpt-5"}, "Unknown model"),
        ({"prompt": "too short"}, "at least 20 characters"),
        ({"name": "has space"}, "Letters, digits"),
    ],
)
def test_a_bad_definition_is_refused_with_a_reason(
    admin_client: Client, form: dict, error: str
) -> None:
    url = reverse("admin:agents_agentdefinition_add")
    base = {"name": "triage", "description": "", "prompt": PROMPT, "model": "haiku"}
    response = admin_client.post(url, {**base, **form})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not AgentDefinition.objects.exists()


def test_preferences_and_workspaces_are_listed(admin_client: Client) -> None:
    AgentPreference.objects.create(agent_id="reviewer", model="opus")
    Workspace.objects.create(path="/srv/shop", name="shop")
    bad = admin_client.post(
        reverse("admin:agents_agentpreference_add"), {"agent_id": "x", "model": "nope"}
    )

    assert "Unknown model" in bad.content.decode()
    for name in ("agentdefinition", "agentpreference", "workspace"):
        page = admin_client.get(reverse(f"admin:agents_{name}_changelist"))
        assert page.status_code == 200
    assert (
        "reviewer"
        in admin_client.get(reverse("admin:agents_agentpreference_changelist")).content.decode()
    )
