"""/metrics on the running server counts what that server did, from real requests."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from analytics.operations import metrics
from analytics.recording.usage import Usage
from analytics.recording.write_behind import RequestRecord
from tests.conftest import FakeUpstream, ProxyServer, wait_for
from tests.factories import make_account, make_oauth_account

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-ant-api03-metered-account-key-0001"
MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}


def scrape(proxy: ProxyServer, token: str) -> httpx.Response:
    return httpx.get(f"{proxy.url}/metrics", headers={"Authorization": f"Bearer {token}"})


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a /metrics page; 0 when the series is not there yet."""
    values = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and s.labels == labels
    ]
    return values[0] if values else 0.0


def growth(before: str, after: str, name: str, **labels: str) -> float:
    return sample(after, name, **labels) - sample(before, name, **labels)


def test_a_failover_and_a_token_refresh_show_in_the_servers_metrics(
    proxy: ProxyServer, fake_upstream: FakeUpstream, api_token: str
) -> None:
    make_account(name="metered-limited", api_key=KEY, priority=0)
    make_oauth_account(
        name="metered-oauth", priority=1, expires_at=timezone.now() - timedelta(minutes=1)
    )
    fake_upstream.add_rule(credential=KEY, scenario="rate_limited")
    before = scrape(proxy, api_token).text
    served = {
        "account": "metered-oauth",
        "model": "claude-sonnet-4-6",
        "status": "200",
        "terminal_state": "complete",
        "client_key": "none",
    }

    response = httpx.post(f"{proxy.url}/v1/messages", json=MESSAGE, headers={"x-api-key": "c"})
    # Counted when the server writes its records, in the background.
    counted = wait_for(
        lambda: (
            sample(page := scrape(proxy, api_token).text, "ccflare_requests_total", **served)
            and page
        )
    )

    assert response.status_code == 200
    assert sample(counted, "ccflare_requests_total", **served) == 1
    assert growth(before, counted, "ccflare_failovers_total") == 1
    assert growth(before, counted, "ccflare_token_refreshes_total", outcome="ok") == 1
    assert growth(before, counted, "ccflare_upstream_latency_seconds_count") >= 1
    assert scrape(proxy, api_token).headers["content-type"].startswith("text/plain")


def test_a_batch_counts_each_request_under_its_own_labels() -> None:
    def record(model: str, status: int) -> RequestRecord:
        return RequestRecord(
            id="r", started_at=0.0, method="POST", path="/v1/messages",
            status_code=status, usage=Usage(model=model),
        )  # fmt: skip

    def count(model: str, status: str) -> float:
        labels = {"account": "none", "model": model, "status": status}
        labels |= {"terminal_state": "complete", "client_key": "none"}
        return REGISTRY.get_sample_value("ccflare_requests_total", labels) or 0.0

    before = [count("metrics-a", "200"), count("metrics-a", "429"), count("metrics-b", "200")]

    metrics.observe(
        [record("metrics-a", 200)] * 3 + [record("metrics-a", 429), record("metrics-b", 200)]
    )

    after = [count("metrics-a", "200"), count("metrics-a", "429"), count("metrics-b", "200")]
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 1, 1]


def test_a_model_name_from_outside_never_breaks_the_page_nor_grows_it_for_ever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "_model_labels", {}, raising=False)
    monkeypatch.setattr(metrics, "MAX_MODEL_LABELS", 3, raising=False)
    names = ["claude-\udc80", "x" * 500, "claude-a", "claude-b", "claude-c"]

    metrics.observe(
        RequestRecord(id="r", started_at=0.0, method="POST", path="/v1/", usage=Usage(model=name))
        for name in names
    )

    page = generate_latest(REGISTRY).decode()  # a lone surrogate made this raise
    models = {
        sample.labels["model"]
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if family.name == "ccflare_requests"
    }
    assert {"claude-\ufffd", "x" * 128, "claude-a", "other"} <= models
    assert "claude-b" not in models and "claude-c" not in models


def test_a_batch_of_observations_fills_the_buckets_as_one_observe_each() -> None:
    # Batched because with workers each observe is two locked writes to a shared file.
    values = [0.0, 0.0005, 0.001, 0.001, 0.002, 0.05, 0.1, 0.7, 30.0]
    one_by_one, batched = CollectorRegistry(), CollectorRegistry()
    single = Histogram("t_seconds", "t", buckets=(0.001, 0.01, 0.1), registry=one_by_one)
    for value in values:
        single.observe(value)
    metrics.observe_all(
        Histogram("t_seconds", "t", buckets=(0.001, 0.01, 0.1), registry=batched), values
    )

    def samples(registry: CollectorRegistry) -> list:
        found = [(s.name, s.labels, s.value) for f in registry.collect() for s in f.samples]
        return [sample for sample in found if not sample[0].endswith("_created")]

    assert samples(batched) == samples(one_by_one)
    assert ("t_seconds_bucket", {"le": "0.001"}, 4.0) in samples(batched)  # a bound is in
