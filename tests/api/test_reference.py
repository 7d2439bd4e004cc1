"""Connection tests, schedule presets and previews, tenants, provider types, roster reads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.enums import ProviderType
from libs.settings import Settings
from services.api.app import create_app
from tests.api import fake_connectors
from tests.api.conftest import TENANT_A, TENANT_B
from tests.api.fake_connectors import CONFIGS


def test_connection_test_of_a_saved_provider(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]]
) -> None:
    provider = create_provider(ProviderType.CLEVER)
    response = client.post(f"/api/v1/providers/{provider['id']}/test", headers=admin_a)
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Successfully connected to CLEVER",
        "details": {"fake": True},
    }
    # edited settings are tested before saving; the stored secret fills in
    edited = {"clientId": "refused", "districtId": "d", "clientSecret": "********"}
    response = client.post(f"/api/v1/providers/{provider['id']}/test", json={"config": edited}, headers=admin_a)
    assert response.json() == {"success": False, "message": "CLEVER refused the credentials", "details": {}}


def test_connection_test_of_an_unsaved_config(client: TestClient, admin_a: dict[str, str]) -> None:
    body = {"tenantId": TENANT_A, "providerType": "ONEROSTER_CSV", "config": CONFIGS[ProviderType.ONEROSTER_CSV]}
    response = client.post("/api/v1/providers/test", json=body, headers=admin_a)
    assert response.status_code == 200
    assert response.json()["success"] is True
    body["config"] = {"remotePath": "/x"}
    response = client.post("/api/v1/providers/test", json=body, headers=admin_a)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "config.sftp"
    body = {"tenantId": TENANT_B, "providerType": "CLEVER", "config": CONFIGS[ProviderType.CLEVER]}
    assert client.post("/api/v1/providers/test", json=body, headers=admin_a).status_code == 403


def test_connection_test_that_hangs_answers_within_the_timeout(
    db: Engine, api_settings: Settings, connectors: None, admin_a: dict[str, str]
) -> None:
    quick = api_settings.model_copy(update={"connection_test_timeout_seconds": 0.3})
    body = {"tenantId": TENANT_A, "providerType": "CLEVER", "config": {"clientId": "slow", "districtId": "d"}}
    try:
        with TestClient(create_app(quick)) as client:
            response = client.post("/api/v1/providers/test", json=body, headers=admin_a)
    finally:
        fake_connectors.RELEASE_SLOW.set()
    assert response.json() == {"success": False, "message": "No answer from the provider within 0.3 s", "details": {}}


def test_schedule_presets_are_the_spec_table(client: TestClient, admin_a: dict[str, str]) -> None:
    presets = client.get("/api/v1/schedule-presets", headers=admin_a).json()["presets"]
    assert {p["name"]: p["cron"] for p in presets} == {
        "daily": "0 2 * * *",
        "twice-daily": "0 2,14 * * *",
        "every-6-hours": "0 */6 * * *",
        "weekdays": "0 6 * * 1-5",
        "hourly": "0 * * * *",
        "weekly": "0 0 * * 0",
    }


def test_schedule_preview_lists_the_next_five_local_times(client: TestClient, admin_a: dict[str, str]) -> None:
    response = client.get("/api/v1/schedule/preview?cron=twice-daily&timezone=Asia/Kolkata", headers=admin_a)
    data = response.json()
    assert data["cron"] == "0 2,14 * * *"
    assert data["preset"] == "twice-daily"
    assert len(data["nextRuns"]) == 5
    assert {t[11:] for t in data["nextRunsLocal"]} == {"02:00:00+05:30", "14:00:00+05:30"}
    bad = client.get("/api/v1/schedule/preview?cron=nope&timezone=Nowhere/Town", headers=admin_a)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"query.cron", "query.timezone"}


def test_tenants_lists_all_for_platform_admins_and_own_for_district_admins(
    client: TestClient,
    admin_a: dict[str, str],
    admin_b: dict[str, str],
    platform: dict[str, str],
    create_provider: Callable[..., dict[str, Any]],
) -> None:
    create_provider()
    create_provider()
    create_provider(tenant=TENANT_B, headers=admin_b)
    assert client.get("/api/v1/tenants", headers=platform).json()["tenants"] == [
        {"tenantId": TENANT_A, "providerCount": 2},
        {"tenantId": TENANT_B, "providerCount": 1},
    ]
    assert client.get("/api/v1/tenants", headers=admin_b).json()["tenants"] == [
        {"tenantId": TENANT_B, "providerCount": 1}
    ]


def test_provider_types_describe_config_shapes_and_secret_fields(client: TestClient, admin_a: dict[str, str]) -> None:
    types = {
        t["providerType"]: t for t in client.get("/api/v1/provider-types", headers=admin_a).json()["providerTypes"]
    }
    assert set(types) == {t.value for t in ProviderType}
    assert types["ONEROSTER_CSV"]["secretFields"] == ["sftp.password", "sftp.privateKey"]
    assert "remotePath" in types["ONEROSTER_CSV"]["configSchema"]["properties"]


@pytest.fixture
def roster(db: Engine) -> list[uuid.UUID]:
    ids = sorted(uuid.uuid4() for _ in range(5))
    with db.begin() as conn:
        for i, user_id in enumerate(ids):
            conn.execute(
                text(
                    "INSERT INTO users (id, tenant_id, role, given_name, family_name, email, active) "
                    "VALUES (:id, :t, 'student', :g, 'Lovelace', :e, :a)"
                ),
                {"id": user_id, "t": TENANT_A, "g": f"Ada{i}", "e": f"ada{i}@school.org", "a": i != 4},
            )
        conn.execute(
            text("INSERT INTO users (id, tenant_id, role, given_name) VALUES (:id, :t, 'teacher', 'Bea')"),
            {"id": uuid.uuid4(), "t": TENANT_B},
        )
    return ids


def test_roster_pages_with_a_cursor_and_filters(
    client: TestClient, admin_a: dict[str, str], roster: list[uuid.UUID]
) -> None:
    url = f"/api/v1/tenants/{TENANT_A}/roster/users"
    first = client.get(f"{url}?limit=3", headers=admin_a).json()
    assert [u["id"] for u in first["items"]] == [str(i) for i in roster[:3]]
    second = client.get(f"{url}?limit=3&cursor={first['nextCursor']}", headers=admin_a).json()
    assert [u["id"] for u in second["items"]] == [str(i) for i in roster[3:]]
    assert second["nextCursor"] is None
    assert len(client.get(f"{url}?active=true", headers=admin_a).json()["items"]) == 4
    found = client.get(f"{url}?q=ADA3@", headers=admin_a).json()["items"]
    assert [u["email"] for u in found] == ["ada3@school.org"]
    assert client.get(f"{url}?q=100%25", headers=admin_a).json()["items"] == []  # % is literal
    assert client.get(f"{url}?cursor=nope", headers=admin_a).status_code == 422
    assert client.get(f"/api/v1/tenants/{TENANT_B}/roster/users", headers=admin_a).status_code == 403


@pytest.mark.parametrize("kind", ["schools", "terms", "classes", "users", "enrollments"])
def test_every_roster_kind_answers(client: TestClient, admin_a: dict[str, str], kind: str) -> None:
    response = client.get(f"/api/v1/tenants/{TENANT_A}/roster/{kind}", headers=admin_a)
    assert response.status_code == 200
    assert response.json() == {"items": [], "nextCursor": None}
