"""The metric objects the engine counts into, and one function per thing counted.

A worker pool runs several processes, so the values live in prometheus_client's multiprocess
files (`enable_multiprocess`, called by `sis-sync worker` before its processes start) and the
pool's metrics server sums them. Outside a pool (tests, the API's connection tests) the same
calls count into this process's own registry, which nothing serves.

Tenant labels are off by default: a label per district multiplies every series by the number of
districts and names them to whoever can scrape. `configure` (from METRICS_TENANT_LABELS) turns
them on for the run, record, source request and webhook series.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, values

from libs.settings import Settings

# a phase takes from a fraction of a second (a no-change finalize) to hours (a big extract)
PHASE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
# what `source_request` is told happened to one request to a source
SOURCE_OUTCOMES = ("ok", "client_error", "rate_limited", "server_error", "network_error")


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    tenant_labels: bool
    runs_finished: Counter
    phase_seconds: Histogram
    records: Counter
    source_requests: Counter
    source_retries: Counter
    webhook_deliveries: Counter


_tenant_labels = False


def configure(settings: Settings) -> None:
    """Follow METRICS_TENANT_LABELS; call at process start, before anything is counted."""
    global _tenant_labels
    _tenant_labels = settings.metrics_tenant_labels


def enable_multiprocess(directory: Path) -> None:
    """Count into files under `directory` (this process and every process it starts), so one
    server can sum a worker pool. prometheus_client decides this when it is first imported; a
    process that imported it earlier is switched here, before any value exists."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    _build.cache_clear()


def metrics() -> Metrics:
    return _build(_tenant_labels)


@functools.cache
def _build(tenant_labels: bool) -> Metrics:
    registry = CollectorRegistry()
    tenant = ("tenant_id",) if tenant_labels else ()
    return Metrics(
        registry=registry,
        tenant_labels=tenant_labels,
        runs_finished=Counter(
            "sis_sync_runs_finished",
            "Runs a worker ended, by final status and provider type.",
            ("status", "provider_type", *tenant),
            registry=registry,
        ),
        phase_seconds=Histogram(
            "sis_sync_phase_duration_seconds",
            "Time one phase (or one part of it) took, from its message to its commit.",
            ("phase", "provider_type", *tenant),
            buckets=PHASE_BUCKETS,
            registry=registry,
        ),
        records=Counter(
            "sis_sync_records",
            "Records of finished runs, by entity type and what the run did with them.",
            ("entity", "action", *tenant),
            registry=registry,
        ),
        source_requests=Counter(
            "sis_sync_source_requests",
            "HTTP requests to a source system, each attempt counted, by outcome (rate_limited: HTTP 429).",
            ("outcome", *tenant),
            registry=registry,
        ),
        source_retries=Counter(
            "sis_sync_source_retries",
            "Requests to a source sent again after a wait, by why.",
            ("reason", *tenant),
            registry=registry,
        ),
        webhook_deliveries=Counter(
            "sis_sync_webhook_deliveries",
            "Webhook delivery attempts, by event and outcome (delivered, failed, refused).",
            ("event", "outcome", *tenant),
            registry=registry,
        ),
    )


def _labels(m: Metrics, tenant_id: str | None, *names: str) -> tuple[str, ...]:
    return (*names, tenant_id or "") if m.tenant_labels else names


def run_finished(status: str, provider_type: str, tenant_id: str | None) -> None:
    m = metrics()
    m.runs_finished.labels(*_labels(m, tenant_id, status, provider_type)).inc()


def phase_done(phase: str, provider_type: str, tenant_id: str | None, seconds: float) -> None:
    m = metrics()
    m.phase_seconds.labels(*_labels(m, tenant_id, phase, provider_type)).observe(seconds)


# EntityStats fields counted as record actions (matched_by_* only say how `linked` ones matched)
RECORD_ACTIONS = ("created", "updated", "unchanged", "linked", "reactivated", "errors", "deactivated")


def records(entity_counts: Mapping[str, Mapping[str, int]], tenant_id: str | None) -> None:
    """A finished run's records: {entity: {action: count}}."""
    m = metrics()
    for entity, counts in entity_counts.items():
        for action in RECORD_ACTIONS:
            if counts.get(action):
                m.records.labels(*_labels(m, tenant_id, entity, action)).inc(counts[action])


def source_request(outcome: str, tenant_id: str | None) -> None:
    m = metrics()
    m.source_requests.labels(*_labels(m, tenant_id, outcome)).inc()


def source_retry(reason: str, tenant_id: str | None) -> None:
    m = metrics()
    m.source_retries.labels(*_labels(m, tenant_id, reason)).inc()


def webhook_delivery(event: str, outcome: str, tenant_id: str | None) -> None:
    m = metrics()
    m.webhook_deliveries.labels(*_labels(m, tenant_id, event, outcome)).inc()
