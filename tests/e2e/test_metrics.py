"""Metrics end to end: a real worker pool serves what it counted through a sync, the API serves
what Postgres and Redis hold, both parse with prometheus_client's own parser, and no series names
a district unless METRICS_TENANT_LABELS is on."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import Engine
from starlette.testclient import TestClient

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from devkit.simulators.clever.app import Simulator, create_app
from devkit.simulators.serving import serving
from libs.db.dev_secrets import config_cipher
from libs.enums import LOAD_ORDER, ProviderType, SyncStatus
from libs.settings import Settings
from libs.webhooks import store
from services.api.app import create_app as create_api
from tests.e2e.test_clever_sync import clever_provider
from tests.support.providers import create_provider
from tests.support.receiver import receiver
from tests.support.workers import ServiceProcess, Syncs, start_worker, wait_until

pytestmark = pytest.mark.e2e

PHASES = {"plan", "extract", "stage", "load", "deactivate", "finalize"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse(body: str) -> dict[str, list[Sample]]:
    """Samples by family name, as prometheus_client's parser reads the exposition."""
    return {family.name: family.samples for family in text_string_to_metric_families(body)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def label_names(families: dict[str, list[Sample]]) -> set[str]:
    return {label for samples in families.values() for sample in samples for label in sample.labels}


@pytest.fixture
def pool(e2e_settings: Settings, log_dir: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Settings, str]]:
    """A worker pool of two processes in a key space of its own, its metrics on a loopback port."""
    tenant_labels = bool(getattr(request, "param", False))
    settings = e2e_settings.model_copy(
        update={
            "redis_namespace": f"{e2e_settings.redis_namespace}-metrics",
            "metrics_tenant_labels": tenant_labels,
        }
    )
    port = _free_port()
    worker: ServiceProcess = start_worker(
        settings,
        log_dir,
        processes=2,
        worker_metrics_port=port,
        host="127.0.0.1",
        metrics_tenant_labels=str(tenant_labels).lower(),
        webhook_retry_base_seconds=0.2,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until(lambda: _answers(url), timeout=30, what="the worker's metrics server")
        yield settings, url
    finally:
        worker.stop()


def _scrape_once_delivered(url: str) -> str | None:
    body = httpx.get(url, timeout=5).text
    return body if "sis_sync_webhook_deliveries_total{" in body else None


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_worker_pool_and_the_api_serve_the_series_of_a_sync_without_naming_a_district(
    pool: tuple[Settings, str], db: Engine
) -> None:
    settings, url = pool
    # a Clever district that answers 503s and 429s now and then, so the requests have every outcome
    sim = Simulator(District(DistrictSpec(students=150, teachers=12, schools=2, seed=11)), window_seconds=1)
    sim.faults.faults.update({"error_every": 5, "throttle_every": 7})
    with serving(create_app(sim)) as server, receiver() as hook:
        with db.begin() as conn:
            store.create(
                conn,
                config_cipher(settings),
                tenant_id="district-1",
                url=hook.url,
                events=["run.succeeded"],
                enabled=True,
            )
        provider_id = clever_provider(db, settings, server, sim)
        syncs = Syncs(settings, db)
        try:
            run = syncs.run(provider_id)
        finally:
            syncs.close()
        assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
        wait_until(lambda: hook.requests, timeout=30, what="the webhook delivery")
        # the delivery is counted once its log row is written, just after the answer came
        body = wait_until(lambda: _scrape_once_delivered(url), timeout=30, what="the delivery to be counted")

    worker = parse(body)
    # what the pool's processes counted, summed over both of them
    assert (
        value(
            worker["sis_sync_runs_finished"], "sis_sync_runs_finished_total", status="SUCCESS", provider_type="CLEVER"
        )
        == 1
    )
    durations = worker["sis_sync_phase_duration_seconds"]
    counted = {s.labels["phase"] for s in durations if s.name.endswith("_count") and s.value > 0}
    assert counted == PHASES
    # one histogram observation per step: five loads, one per entity type
    assert value(durations, "sis_sync_phase_duration_seconds_count", phase="load") == len(LOAD_ORDER)
    records = worker["sis_sync_records"]
    for entity in LOAD_ORDER:
        created = run["stats"][entity.plural]["created"]
        assert created > 0
        assert value(records, "sis_sync_records_total", entity=entity.value, action="created") == created
    requests = run["stats"]["requests"]
    source = worker["sis_sync_source_requests"]
    assert value(source, "sis_sync_source_requests_total", outcome="rate_limited") == requests["rateLimited"] > 0
    assert value(source, "sis_sync_source_requests_total", outcome="server_error") == requests["serverErrors"] > 0
    assert value(source, "sis_sync_source_requests_total") == requests["requests"]
    assert value(worker["sis_sync_source_retries"], "sis_sync_source_retries_total") == requests["retries"]
    deliveries = worker["sis_sync_webhook_deliveries"]
    assert value(deliveries, "sis_sync_webhook_deliveries_total", event="run.succeeded", outcome="delivered") == 1
    # read from Redis and Postgres when scraped
    assert {s.labels["queue"] for s in worker["sis_sync_queue_depth"]} == {"sis.control", "sis.extract", "sis.load"}
    assert worker["sis_sync_oldest_waiting_run_seconds"]

    with TestClient(create_api(settings)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    api = parse(response.text)
    assert value(api["sis_sync_runs"], "sis_sync_runs", status="SUCCESS", provider_type="CLEVER") >= 1
    assert value(api["sis_sync_runs_completed_24h"], "sis_sync_runs_completed_24h", status="SUCCESS") >= 1
    assert {s.labels["queue"] for s in api["sis_sync_queue_depth"]} == {"sis.control", "sis.extract", "sis.load"}
    for name in ("sis_sync_oldest_waiting_run_seconds", "sis_sync_providers_stale", "sis_sync_lease_expiries"):
        assert name in api

    for served in (body, response.text):
        assert "district-1" not in served
        assert str(provider_id) not in served
    assert "tenant_id" not in label_names(worker) | label_names(api)


@pytest.mark.parametrize("pool", [True], indirect=True)
def test_metrics_tenant_labels_name_the_district_on_the_series_of_its_runs(
    pool: tuple[Settings, str], db: Engine, tmp_path: Path
) -> None:
    settings, url = pool
    package = write_oneroster_csv(District(DistrictSpec(students=30, teachers=3, schools=1, seed=4)), tmp_path / "p")
    provider_id = create_provider(
        db,
        settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(package)},
        tenant_id="district-7",
    )
    syncs = Syncs(settings, db)
    try:
        run = syncs.run(provider_id)
    finally:
        syncs.close()
    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]

    worker = parse(httpx.get(url, timeout=5).text)
    finished = worker["sis_sync_runs_finished"]
    assert value(finished, "sis_sync_runs_finished_total", status="SUCCESS", tenant_id="district-7") == 1
    assert value(worker["sis_sync_records"], "sis_sync_records_total", tenant_id="district-7", action="created") > 0
    assert {s.labels.get("tenant_id") for s in worker["sis_sync_phase_duration_seconds"]} == {"district-7"}
    with TestClient(create_api(settings)) as client:
        api = parse(client.get("/metrics").text)
    assert value(api["sis_sync_runs"], "sis_sync_runs", status="SUCCESS", tenant_id="district-7") == 1
