"""Liveness and readiness."""

from __future__ import annotations

from starlette.testclient import TestClient

from libs.settings import Settings
from services.api.app import create_app


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


def test_metrics_expose_run_counts_and_queue_depths_without_naming_any_district(settings: Settings, db: object) -> None:
    import uuid

    from sqlalchemy import text

    from libs.enums import ProviderType
    from tests.support.providers import create_provider

    engine = db
    provider_id = create_provider(
        engine,
        settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": "/x"},
        tenant_id="secret-district",
    )
    with engine.begin() as conn:  # type: ignore[attr-defined]
        for status in ("SUCCESS", "SUCCESS", "FAILURE"):
            conn.execute(
                text(
                    "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, completed_at) "
                    "VALUES (:id, :p, 'secret-district', :s, 'manual', true, now())"
                ),
                {"id": uuid.uuid4(), "p": provider_id, "s": status},
            )
    with TestClient(create_app(settings)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    body = response.text
    assert 'sis_sync_runs{status="SUCCESS"} 2' in body
    assert 'sis_sync_runs_completed_24h{status="FAILURE"} 1' in body
    assert 'sis_sync_queue_depth{queue="sis.extract"}' in body
    assert 'sis_sync_providers{enabled="true"} 1' in body
    assert "secret-district" not in body
    assert str(provider_id) not in body
