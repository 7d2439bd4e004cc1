"""Sync operations over HTTP: trigger, duplicate trigger, cancel, status, history, errors."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis as redis_lib
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.enums import SyncStatus
from libs.etl import runs
from libs.settings import Settings
from services.api.app import create_app
from tests.api.conftest import TENANT_A, FakeClock, auth


def queued(redis_client: redis_lib.Redis, settings: Settings, queue: str) -> list[tuple[str, list[str]]]:
    raw = redis_client.hgetall(f"{settings.redis_namespace}:dramatiq:{queue}.msgs")
    messages = [json.loads(v) for v in raw.values()]
    return [(m["actor_name"], m["args"]) for m in messages]


def test_trigger_creates_a_pending_run_and_sends_start_after_commit(
    client: TestClient,
    admin_a: dict[str, str],
    create_provider: Callable[..., dict[str, Any]],
    db: Engine,
    redis_client: redis_lib.Redis,
    api_settings: Settings,
) -> None:
    provider = create_provider()
    response = client.post(f"/api/v1/providers/{provider['id']}/sync", headers=admin_a)
    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    assert response.json() == {"runId": run_id, "status": "PENDING", "mode": "full", "preview": False}
    with db.connect() as conn:
        run = conn.execute(text("SELECT * FROM sis_sync_runs WHERE id = :r"), {"r": run_id}).one()
    assert (run.status, run.trigger, run.is_manual, run.requested_by) == ("PENDING", "manual", True, "admin@a")
    assert ("sis.start_sync", [run_id]) in queued(redis_client, api_settings, "sis.control")


def test_second_trigger_while_active_is_409_with_the_active_run_id(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    provider = create_provider()
    first = client.post(f"/api/v1/providers/{provider['id']}/sync", headers=admin_a).json()
    second = client.post(f"/api/v1/providers/{provider['id']}/sync", headers=admin_a)
    assert second.status_code == 409
    assert second.json()["runId"] == first["runId"]
    assert second.json()["runStatus"] == "PENDING"
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sis_sync_runs")).scalar_one() == 1


def test_trigger_body_sets_mode_and_mass_deactivation(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    provider = create_provider()
    body = {"mode": "incremental", "allowMassDeactivation": True}
    response = client.post(f"/api/v1/providers/{provider['id']}/sync", json=body, headers=admin_a)
    assert response.status_code == 202
    with db.connect() as conn:
        run = conn.execute(text("SELECT mode, options FROM sis_sync_runs")).one()
    assert run.mode == "incremental"
    assert run.options == {"allowMassDeactivation": True}
    bad = client.post(f"/api/v1/providers/{provider['id']}/sync", json={"mode": "partial"}, headers=admin_a)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "mode"


def test_trigger_of_disabled_provider_is_refused(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]]
) -> None:
    provider = create_provider(enabled=False)
    response = client.post(f"/api/v1/providers/{provider['id']}/sync", headers=admin_a)
    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]


def test_cancel_of_a_pending_run_ends_it_and_a_running_one_is_signalled(
    client: TestClient,
    admin_a: dict[str, str],
    create_provider: Callable[..., dict[str, Any]],
    db: Engine,
    redis_client: redis_lib.Redis,
    api_settings: Settings,
) -> None:
    provider = create_provider()
    url = f"/api/v1/providers/{provider['id']}"
    assert client.post(f"{url}/sync/cancel", headers=admin_a).status_code == 409  # nothing to cancel
    run_id = client.post(f"{url}/sync", headers=admin_a).json()["runId"]
    cancelled = client.post(f"{url}/sync/cancel", headers=admin_a)
    assert cancelled.status_code == 202
    assert cancelled.json() == {"runId": run_id, "status": "CANCELLED"}
    # a running one: admitted by the engine, then cancelled through the API
    run_id = client.post(f"{url}/sync", headers=admin_a).json()["runId"]
    with db.begin() as conn:
        runs.admit_pending(conn, max_concurrent=10, per_tenant=10, lease_ms=60_000)
    cancelled = client.post(f"{url}/sync/cancel", headers=admin_a)
    assert cancelled.json() == {"runId": run_id, "status": "IN_PROGRESS"}
    status = client.get(f"{url}/sync/status", headers=admin_a).json()
    assert status["isRunning"] is True
    assert status["cancelRequested"] is True
    assert ("sis.cancel_sync", [run_id]) in queued(redis_client, api_settings, "sis.control")


def _insert_run(db: Engine, provider_id: str, status: str, minutes_ago: int, **extra: Any) -> str:
    run_id = str(uuid.uuid4())
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, requested_at, "
                "started_at, completed_at, stats, phase) "
                "VALUES (:id, :p, :t, CAST(CAST(:s AS text) AS sis_sync_status), 'schedule', false, "
                "now() - make_interval(mins => :m), now() - make_interval(mins => :m), "
                "CASE WHEN CAST(:s AS text) IN ('PENDING', 'IN_PROGRESS') THEN NULL "
                "ELSE now() - make_interval(mins => :m - 1) END, "
                "CAST(:stats AS jsonb), :phase)"
            ),
            {
                "id": run_id,
                "p": provider_id,
                "t": TENANT_A,
                "s": status,
                "m": minutes_ago,
                "stats": json.dumps(extra.get("stats", {})),
                "phase": extra.get("phase"),
            },
        )
    return run_id


def test_status_reports_last_result_and_the_active_runs_progress(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    provider = create_provider()
    url = f"/api/v1/providers/{provider['id']}/sync/status"
    idle = client.get(url, headers=admin_a).json()
    assert idle["isRunning"] is False
    assert idle["lastStatus"] is None
    assert idle["progress"] is None
    _insert_run(db, provider["id"], "PARTIAL", 120)
    active = _insert_run(db, provider["id"], "IN_PROGRESS", 5, phase="extract")
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_run_steps (run_id, step, status, records, started_at, finished_at) VALUES "
                "(:r, 'plan', 'done', 0, now(), now()), (:r, 'extract:users', 'done', 900, now(), now()), "
                "(:r, 'extract:enrollments', 'running', 250, now(), NULL)"
            ),
            {"r": active},
        )
    status = client.get(url, headers=admin_a).json()
    assert status["isRunning"] is True
    assert status["runId"] == active
    assert status["phase"] == "extract"
    assert status["lastStatus"] == "PARTIAL"
    assert status["lastSync"] is not None
    assert status["progress"]["stepsTotal"] == 3
    assert status["progress"]["stepsDone"] == 2
    assert status["progress"]["records"] == 1150


def test_last_successful_sync_is_the_last_success_not_a_partial_run(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    provider = create_provider()
    ended = {}
    for status, minutes_ago in ((SyncStatus.SUCCESS, 120), (SyncStatus.PARTIAL, 60)):
        run_id = _insert_run(db, provider["id"], "IN_PROGRESS", minutes_ago)
        with db.begin() as conn:  # as the pipeline ends a run
            assert runs.finish(conn, run_id, status=status)
            ended[status] = conn.execute(
                text("SELECT completed_at FROM sis_sync_runs WHERE id = :r"), {"r": run_id}
            ).scalar_one()
    status_now = client.get(f"/api/v1/providers/{provider['id']}/sync/status", headers=admin_a).json()
    assert status_now["lastStatus"] == "PARTIAL"
    assert datetime.fromisoformat(status_now["lastSuccessfulSync"]) == ended[SyncStatus.SUCCESS]


def test_history_is_newest_first_with_paging_and_stats(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    provider = create_provider()
    ids = [_insert_run(db, provider["id"], "SUCCESS", m, stats={"users": {"created": m}}) for m in (300, 200, 100, 50)]
    url = f"/api/v1/providers/{provider['id']}/runs"
    page = client.get(f"{url}?limit=2&offset=0", headers=admin_a).json()
    assert page["total"] == 4
    assert page["limit"] == 2
    assert [r["id"] for r in page["runs"]] == [ids[3], ids[2]]
    assert page["runs"][0]["stats"]["users"]["created"] == 50
    assert page["runs"][0]["stats"]["schools"]["received"] == 0  # every count is there, typed
    assert page["runs"][0]["durationSeconds"] == 60.0
    page = client.get(f"{url}?limit=2&offset=2", headers=admin_a).json()
    assert [r["id"] for r in page["runs"]] == [ids[1], ids[0]]
    assert client.get(f"{url}?limit=0", headers=admin_a).status_code == 422
    assert client.get(f"{url}?limit=abc", headers=admin_a).json()["errors"][0]["field"] == "query.limit"


def test_run_detail_and_errors_as_json_pages_and_csv_download(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    provider = create_provider()
    run_id = _insert_run(db, provider["id"], "PARTIAL", 10)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE sis_sync_runs SET source = CAST(:s AS jsonb), timings = CAST(:t AS jsonb) WHERE id = :r"),
            {"r": run_id, "s": json.dumps({"pages": 12}), "t": json.dumps({"extract": 3.5})},
        )
        conn.execute(
            text(
                "INSERT INTO sis_sync_errors (run_id, entity_type, external_id, source, line, field, code, message) "
                "SELECT :r, 'user', 'u' || g, 'users.csv', g, 'email', 'invalid_email', "
                "CASE WHEN g = 1 THEN '=HYPERLINK(\"x\")' ELSE 'bad email, row ' || g END "
                "FROM generate_series(1, 12001) g"
            ),
            {"r": run_id},
        )
    detail = client.get(f"/api/v1/runs/{run_id}", headers=admin_a).json()
    assert detail["errorCount"] == 12001
    assert detail["source"] == {"pages": 12}
    assert detail["timings"] == {"extract": 3.5}
    page = client.get(f"/api/v1/runs/{run_id}/errors?limit=5&offset=5", headers=admin_a).json()
    assert page["total"] == 12001
    assert [e["externalId"] for e in page["errors"]] == ["u6", "u7", "u8", "u9", "u10"]
    download = client.get(f"/api/v1/runs/{run_id}/errors?format=csv", headers=admin_a)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0][:3] == ["id", "entityType", "externalId"]
    assert len(rows) == 12002
    assert rows[1][7] == '\'=HYPERLINK("x")'  # formula neutralised


def test_manual_syncs_are_rate_limited_per_token_and_provider(
    db: Engine, api_settings: Settings, connectors: None, token: Callable[..., str]
) -> None:
    limited = api_settings.model_copy(update={"api_sync_triggers_per_minute": 3})
    # distinct subjects: tokens minted in the same second with the same claims would be one token
    mine = auth(token(sub=f"admin-{uuid.uuid4()}@a"))
    colleague = auth(token(sub=f"admin-{uuid.uuid4()}@a"))
    with TestClient(create_app(limited)) as client:
        clock = FakeClock(time.time())
        client.app.state.services.get().limiter.clock = clock  # type: ignore[attr-defined]
        body = {"tenantId": TENANT_A, "providerType": "CLEVER", "config": {"clientId": "c", "districtId": "d"}}
        first, second = (
            client.post("/api/v1/providers", json={**body, "name": name}, headers=mine).json()["id"]
            for name in ("first", "second")
        )

        def sync(provider_id: str, headers: dict[str, str]) -> int:
            return client.post(f"/api/v1/providers/{provider_id}/sync", headers=headers).status_code

        # a 409 is an answer from past the limiter: the first run is still pending
        assert [sync(first, mine) for _ in range(3)] == [202, 409, 409]
        refused = client.post(f"/api/v1/providers/{first}/sync", headers=mine)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert (problem["status"], problem["title"]) == (429, "Too Many Requests")
        assert problem["type"].startswith("https://")
        # all three were counted at this instant, so the window has room again in exactly a minute
        assert refused.headers["retry-after"] == "60"
        assert problem["retryAfter"] == 60

        # the same token on another provider, and another token on this provider, are not held back
        assert sync(second, mine) == 202
        assert [sync(first, colleague) for _ in range(3)] == [409, 409, 409]
        assert sync(first, colleague) == 429
        assert sync(second, mine) == 409
        assert sync(first, mine) == 429

        clock.now += 59.5
        late = client.post(f"/api/v1/providers/{first}/sync", headers=mine)
        assert (late.status_code, late.headers["retry-after"]) == (429, "1")
        clock.now += 0.5
        assert sync(first, mine) == 409


class _BrokerDown:
    def enqueue(self, message: Any) -> None:
        raise ConnectionError("redis is down")


def test_a_lost_send_after_commit_still_answers_202_and_leaves_the_run_pending(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    provider = create_provider()
    client.app.state.services.get().broker = _BrokerDown()  # type: ignore[attr-defined]
    response = client.post(f"/api/v1/providers/{provider['id']}/sync", headers=admin_a)
    assert response.status_code == 202
    with db.connect() as conn:
        assert conn.execute(text("SELECT status FROM sis_sync_runs")).scalar_one() == "PENDING"


def test_every_endpoint_is_rate_limited_per_token(
    db: Engine, api_settings: Settings, connectors: None, token: Callable[..., str]
) -> None:
    limited = api_settings.model_copy(update={"api_requests_per_minute": 3})
    mine = {"Authorization": f"Bearer {token(sub=f'user-{uuid.uuid4()}')}"}
    other = {"Authorization": f"Bearer {token(sub=f'user-{uuid.uuid4()}')}"}
    with TestClient(create_app(limited)) as client:
        codes = [client.get("/api/v1/schedule-presets", headers=mine).status_code for _ in range(4)]
        assert codes[:3] == [200, 200, 200]
        assert codes[3] == 429
        assert client.get("/api/v1/schedule-presets", headers=other).status_code == 200
