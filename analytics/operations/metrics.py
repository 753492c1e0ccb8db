"""Prometheus metrics: counters and histograms fed by the recorder's flush, gauges read at scrape.

Nothing here runs per response chunk or on the response path: `observe` is called
with each flushed batch, off the event loop. Other modules count their own events
through the module-level metrics, e.g. `metrics.TOKEN_REFRESHES.labels(outcome="ok").inc()`.
Values are per process; the WORKERS of one server write them to files in
PROMETHEUS_MULTIPROC_DIR (set by ccflare_site/workers.py) and a scrape of any worker
sums them all. Separate servers (replicas) are scraped each.
"""

import os
from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from access.models import ClientKey
from accounts.models import Account
from analytics.recording import storable

REQUESTS = Counter(
    "ccflare_requests",
    "Client requests through the proxy, by account, model, status, terminal state and "
    "client key ('none' while client keys are off).",
    ["account", "model", "status", "terminal_state", "client_key"],
)
FAILOVERS = Counter(
    "ccflare_failovers", "Times a request moved on to another account before being answered."
)
TOKEN_REFRESHES = Counter("ccflare_token_refreshes", "OAuth token refreshes.", ["outcome"])
PROXY_OVERHEAD = Histogram(
    "ccflare_proxy_overhead_seconds",
    "Time from the client's request to the upstream call (body read, client-key check).",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
UPSTREAM_LATENCY = Histogram(
    "ccflare_upstream_latency_seconds",
    "Time from the upstream call to its response headers, failover and retries included.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)

# Distinct model labels kept; names beyond them count as "other". Far more than the
# models Anthropic serves at once.
MAX_MODEL_LABELS = 200
_model_labels: dict[str, str] = {}
# Account names by id (the UUID itself: its text form cost a format per record).
_names: dict[Any, str] = {}
_key_names: dict[int, str] = {}


def observe(batch: Iterable) -> None:
    """Count a flushed batch of RequestRecords (called from the recorder's thread)."""
    batch = list(batch)
    _learn_names({r.account_id for r in batch if r.account_id is not None})
    _learn_key_names({r.client_key_id for r in batch if r.client_key_id is not None})
    # One increment per set of labels: a batch is mostly the same few (labels() is a lookup
    # under a lock, and inc another lock).
    for labels, count in Tally(_request_labels(record) for record in batch).items():
        REQUESTS.labels(*labels).inc(count)
    if failovers := sum(record.failover_attempts for record in batch):
        FAILOVERS.inc(failovers)
    observe_all(PROXY_OVERHEAD, _seconds(r.overhead_ms for r in batch))
    observe_all(UPSTREAM_LATENCY, _seconds(r.upstream_ms for r in batch))


def _seconds(durations_ms: Iterable[float | None]) -> list[float]:
    return [ms / 1000 for ms in durations_ms if ms is not None]


def observe_all(histogram: Histogram, values: list[float]) -> None:
    """`histogram.observe` of each value, with each bucket and the sum added to once.

    With WORKERS every add is a locked write to a file shared by the processes (1.6 µs
    an observation, two a request); a batch's hundred values fall in a few buckets.
    A value goes in the first bucket whose bound is not below it, as `observe` does.
    """
    if not values:
        return
    bounds = histogram._upper_bounds
    for index, count in Tally(bisect_left(bounds, value) for value in values).items():
        histogram._buckets[index].inc(count)
    histogram._sum.inc(sum(values))


def _request_labels(record: Any) -> tuple[str, str, str, str, str]:
    """REQUESTS' labels of a record, in the counter's order."""
    key = record.client_key_id
    return (
        _names.get(record.account_id, "none") if record.account_id else "none",
        _model_label(record.usage.model),
        str(record.status_code or 0),
        record.terminal_state,
        "none" if key is None else _key_names.get(key, str(key)),
    )


def _model_label(model: str | None) -> str:
    """The model as a label: one /metrics can write, and not a new series per invented name.

    The name comes from the client or the upstream: a lone surrogate in it once made every
    later scrape fail (UTF-8 cannot encode one), and each distinct name is a series kept
    for the life of the process.
    """
    if not model:
        return "none"
    label = _model_labels.get(model)
    if label is not None:
        return label
    if len(_model_labels) >= MAX_MODEL_LABELS:
        return "other"
    label = _model_labels[model] = storable.text(model)[:128]
    return label


def _learn_names(ids: set[Any]) -> None:
    # Names rarely change; a label must not cost a query per request.
    missing = ids - _names.keys()
    if missing:
        _names.update(Account.objects.filter(pk__in=missing).values_list("pk", "name"))


def _learn_key_names(ids: set[int]) -> None:
    # A key's name never changes (a new key is made instead), so it is learnt once.
    missing = ids - _key_names.keys()
    if missing:
        _key_names.update(ClientKey.objects.filter(pk__in=missing).values_list("pk", "name"))


class AccountsCollector(Collector):
    """Account gauges, read from the database when Prometheus scrapes."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        accounts = list(Account.objects.all())
        usable = GaugeMetricFamily("ccflare_usable_accounts", "Accounts not paused nor blocked.")
        usable.add_metric([], sum(1 for a in accounts if a.is_usable(now)))
        window = GaugeMetricFamily(
            "ccflare_account_window_utilization",
            "Share (0-1) of an account's rate-limit window used, as last reported upstream.",
            labels=["account", "window"],
        )
        for account in accounts:
            for label, value in (
                ("5h", account.five_hour_utilization),
                ("7d", account.seven_day_utilization),
            ):
                if value is not None:
                    window.add_metric([account.name, label], value)
        yield usable
        yield window

    def describe(self) -> list:
        # Without describe, registering would call collect (a query) at import time.
        return []


REGISTRY.register(AccountsCollector())


def scrape_registry() -> CollectorRegistry:
    """What /metrics reports: this process's metrics, or with workers, the sum of all of theirs."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    # Gauges read from the database once, not once per worker file.
    registry.register(AccountsCollector())
    return registry
