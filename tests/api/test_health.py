"""Liveness, readiness and the API's /metrics."""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.enums import ProviderType
from libs.etl import runs
from libs.settings import Settings
from services.api.app import create_app
from tests.support.providers import create_provider


def test_healthz_answers_without_touching_dependencies(settings: Settings) -> None:
    broken = settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/none"})
    with TestClient(create_app(broken)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_200_when_database_and_redis_answer(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_and_names_the_dependency_that_is_down(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(broken)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["redis"] != "ok"


def _families(settings: Settings) -> dict[str, list[Any]]:
    with TestClient(create_app(settings)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {f.name: f.samples for f in text_string_to_metric_families(response.text)}


def _value(samples: list[Any], **labels: str) -> float:
    return sum(s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items()))


def _seed_runs(engine: Engine, settings: Settings) -> uuid.UUID:
    """Two successes, a failure, a run whose lease expired and was reaped, a stale provider."""
    provider_id = create_provider(
        engine,
        settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": "/x"},
        tenant_id="secret-district",
    )
    with engine.begin() as conn:
        for status in ("SUCCESS", "SUCCESS", "FAILURE", "IN_PROGRESS"):
            conn.execute(
                text(
                    "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, "
                    "completed_at, lease_token, lease_expires_at) "
                    "VALUES (:id, :p, 'secret-district', CAST(:s AS sis_sync_status), 'manual', true, "
                    "CASE WHEN CAST(:s AS text) <> 'IN_PROGRESS' THEN now() END, gen_random_uuid(), "
                    "now() - interval '1 minute')"
                ),
                {"id": uuid.uuid4(), "p": provider_id, "s": status},
            )
        assert len(runs.reap_expired(conn)) == 1
        conn.execute(text("UPDATE sis_providers SET stale_since = now() WHERE id = :p"), {"p": provider_id})
    return provider_id


def test_metrics_parse_and_count_runs_expiries_stale_providers_and_queues_without_naming_any_district(
    settings: Settings, db: Engine
) -> None:
    provider_id = _seed_runs(db, settings)
    families = _families(settings)
    runs_by = families["sis_sync_runs"]
    assert _value(runs_by, status="SUCCESS", provider_type="ONEROSTER_CSV") == 2
    # the reaped run is a FAILURE too
    assert _value(runs_by, status="FAILURE", provider_type="ONEROSTER_CSV") == 2
    assert _value(families["sis_sync_runs_completed_24h"], status="FAILURE") == 2
    assert _value(families["sis_sync_lease_expiries"], provider_type="ONEROSTER_CSV") == 1
    assert _value(families["sis_sync_providers_stale"]) == 1
    assert _value(families["sis_sync_providers"], enabled="true") == 1
    assert {s.labels["queue"] for s in families["sis_sync_queue_depth"]} == {"sis.control", "sis.extract", "sis.load"}
    assert "sis_sync_oldest_waiting_run_seconds" in families
    served = repr(families)
    assert "secret-district" not in served
    assert str(provider_id) not in served
    assert all("tenant_id" not in s.labels for samples in families.values() for s in samples)


def test_metrics_tenant_labels_split_the_run_series_by_district(settings: Settings, db: Engine) -> None:
    _seed_runs(db, settings)
    families = _families(settings.model_copy(update={"metrics_tenant_labels": True}))
    assert _value(families["sis_sync_runs"], status="SUCCESS", tenant_id="secret-district") == 2
    assert _value(families["sis_sync_lease_expiries"], tenant_id="secret-district") == 1


def test_metrics_answer_without_the_database_and_leave_its_series_out(settings: Settings) -> None:
    broken = settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/none"})
    families = _families(broken)
    assert "sis_sync_runs" not in families
    assert {s.labels["queue"] for s in families["sis_sync_queue_depth"]} == {"sis.control", "sis.extract", "sis.load"}
