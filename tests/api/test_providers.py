"""Provider management over HTTP: create, read, list, update, validation, masking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.db.crypto import ConfigCipher
from libs.enums import ProviderType
from tests.api.conftest import TENANT_A, provider_body
from tests.api.fake_connectors import CONFIGS, SECRETS


def test_created_provider_comes_back_with_secrets_masked_and_flagged(
    client: TestClient, admin_a: dict[str, str]
) -> None:
    response = client.post("/api/v1/providers", json=provider_body(ProviderType.CLEVER), headers=admin_a)
    assert response.status_code == 201
    data = response.json()
    assert data["config"] == {
        "clientId": "clever-client",
        "clientSecret": "********",
        "hasClientSecret": True,
        "districtId": "5b2ad81a709e300001e2cd7a",
        "accessToken": "********",
        "hasAccessToken": True,
    }
    assert data["syncSchedule"] == "0 2 * * *"
    assert data["schedulePreset"] == "daily"
    assert data["scheduleTimezone"] == "America/New_York"
    assert data["enabled"] is True
    assert data["options"]["createUsers"] is True
    # 02:00 New York is 06:00 or 07:00 UTC depending on DST
    assert data["nextRunAt"] is not None
    assert data["nextRunAt"][11:16] in ("06:00", "07:00")


def test_nested_secret_of_an_sftp_config_is_masked_beside_its_field(
    create_provider: Callable[..., dict[str, Any]],
) -> None:
    data = create_provider(ProviderType.ONEROSTER_CSV)
    assert data["config"]["sftp"]["password"] == "********"
    assert data["config"]["sftp"]["hasPassword"] is True
    assert data["config"]["sftp"]["privateKey"] is None
    assert data["config"]["sftp"]["hasPrivateKey"] is False
    assert data["config"]["sftp"]["host"] == "sftp.example.com"


def test_config_is_stored_encrypted_and_bound_to_the_provider(
    create_provider: Callable[..., dict[str, Any]], db: Engine, encryption_keys: list[str]
) -> None:
    data = create_provider(ProviderType.CLASSLINK)
    with db.connect() as conn:
        blob = conn.execute(
            text("SELECT config_ciphertext FROM sis_providers WHERE id = :id"), {"id": data["id"]}
        ).scalar_one()
    assert SECRETS["classlink"].encode() not in bytes(blob)
    from libs.settings import decode_key

    cipher = ConfigCipher([decode_key(encryption_keys[0])])
    assert cipher.decrypt(blob, provider_id=data["id"])["clientSecret"] == SECRETS["classlink"]


def test_patch_without_secret_keeps_the_stored_secret(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    created = create_provider(ProviderType.ONEROSTER_API)
    # the UI sends back what it got: masked secret and its flag
    config = dict(created["config"], baseUrl="https://other.example.com/ims/oneroster/v1p1")
    response = client.patch(f"/api/v1/providers/{created['id']}", json={"config": config}, headers=admin_a)
    assert response.status_code == 200, response.text
    assert response.json()["config"]["baseUrl"] == "https://other.example.com/ims/oneroster/v1p1"
    assert response.json()["config"]["hasClientSecret"] is True
    stored = _stored_config(client, db, created["id"])
    assert stored["clientSecret"] == SECRETS["oneroster"]
    # a new secret replaces the old one
    config = {"baseUrl": config["baseUrl"], "clientId": "or-client", "clientSecret": "NEW-SECRET-000"}
    assert client.patch(f"/api/v1/providers/{created['id']}", json={"config": config}, headers=admin_a).is_success
    assert _stored_config(client, db, created["id"])["clientSecret"] == "NEW-SECRET-000"


def _stored_config(client: TestClient, db: Engine, provider_id: str) -> dict[str, Any]:
    with db.connect() as conn:
        blob = conn.execute(
            text("SELECT config_ciphertext FROM sis_providers WHERE id = :id"), {"id": provider_id}
        ).scalar_one()
    cipher = client.app.state.services.get().cipher  # type: ignore[attr-defined]
    return dict(cipher.decrypt(blob, provider_id=provider_id))


def test_patch_changes_only_given_fields_and_recomputes_next_run(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]]
) -> None:
    created = create_provider()
    response = client.patch(
        f"/api/v1/providers/{created['id']}",
        json={"syncSchedule": "0 6 * * 1-5", "scheduleTimezone": "Europe/Berlin", "options": {"incremental": True}},
        headers=admin_a,
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["name"] == created["name"]
    assert data["syncSchedule"] == "0 6 * * 1-5"
    assert data["schedulePreset"] == "weekdays"
    assert data["options"]["incremental"] is True
    assert data["options"]["createUsers"] is True  # untouched option kept
    assert data["nextRunAt"] != created["nextRunAt"]
    # disabling clears the next run; a null schedule removes it
    data = client.patch(f"/api/v1/providers/{created['id']}", json={"enabled": False}, headers=admin_a).json()
    assert data["enabled"] is False
    assert data["nextRunAt"] is None
    data = client.patch(
        f"/api/v1/providers/{created['id']}", json={"enabled": True, "syncSchedule": None}, headers=admin_a
    ).json()
    assert data["syncSchedule"] is None
    assert data["nextRunAt"] is None


def test_list_returns_the_tenants_providers_only(
    client: TestClient,
    admin_a: dict[str, str],
    admin_b: dict[str, str],
    create_provider: Callable[..., dict[str, Any]],
) -> None:
    a1 = create_provider(ProviderType.CLEVER)
    a2 = create_provider(ProviderType.CLASSLINK)
    create_provider(ProviderType.CLEVER, tenant="district-b", headers=admin_b)
    data = client.get(f"/api/v1/tenants/{TENANT_A}/providers", headers=admin_a).json()
    assert [p["id"] for p in data["providers"]] == [a1["id"], a2["id"]]
    assert client.get(f"/api/v1/providers/{a1['id']}", headers=admin_a).json()["id"] == a1["id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"providerType": "MOODLE"}, "providerType"),
        ({"syncSchedule": "every day at 2"}, "syncSchedule"),
        ({"syncSchedule": "0 2 * * * *"}, "syncSchedule"),
        ({"syncSchedule": "61 2 * * *"}, "syncSchedule"),
        ({"scheduleTimezone": "Mars/Olympus"}, "scheduleTimezone"),
        ({"scheduleTimezone": "localtime"}, "scheduleTimezone"),
        ({"name": ""}, "name"),
        ({"tenantId": "a b"}, "tenantId"),
        ({"unexpected": 1}, "unexpected"),
        ({"options": {"deactivationThresholdPercent": 150}}, "options.deactivationThresholdPercent"),
        ({"options": {"noSuchOption": True}}, "options.noSuchOption"),
        ({"config": {"clientId": "x", "districtId": "d", "extra": 1}}, "config.extra"),
        ({"config": {"clientSecret": "s", "districtId": "d"}}, "config.clientId"),
    ],
)
def test_invalid_create_is_422_problem_naming_the_field(
    client: TestClient, admin_a: dict[str, str], change: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/providers", json=provider_body(**change), headers=admin_a)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]], problem
    assert "pointer" in problem["errors"][0]


def test_each_provider_type_validates_its_own_config_shape(client: TestClient, admin_a: dict[str, str]) -> None:
    for provider_type, config in CONFIGS.items():
        ok = client.post("/api/v1/providers", json=provider_body(provider_type), headers=admin_a)
        assert ok.status_code == 201, (provider_type, ok.text)
        # another type's config is refused, with the missing field named
        other = next(c for t, c in CONFIGS.items() if t is not provider_type and c.keys() != config.keys())
        bad = client.post("/api/v1/providers", json=provider_body(provider_type, config=other), headers=admin_a)
        assert bad.status_code == 422
        assert all(e["field"].startswith("config.") for e in bad.json()["errors"])


def test_sftp_port_out_of_range_names_the_nested_path(client: TestClient, admin_a: dict[str, str]) -> None:
    config = dict(CONFIGS[ProviderType.ONEROSTER_CSV])
    config["sftp"] = dict(config["sftp"], port=70000)
    response = client.post(
        "/api/v1/providers", json=provider_body(ProviderType.ONEROSTER_CSV, config=config), headers=admin_a
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "config.sftp.port"
    assert response.json()["errors"][0]["pointer"] == "#/config/sftp/port"


def test_malformed_oversized_and_non_json_bodies_are_problems(client: TestClient, admin_a: dict[str, str]) -> None:
    headers = {**admin_a, "content-type": "application/json"}
    assert client.post("/api/v1/providers", content=b"{not json", headers=headers).status_code == 400
    big = b'{"name": "' + b"x" * 300_000 + b'"}'
    response = client.post("/api/v1/providers", content=big, headers=headers)
    assert response.status_code == 413
    assert response.json()["status"] == 413
    text_headers = {**admin_a, "content-type": "text/plain"}
    assert client.post("/api/v1/providers", content=b"hello", headers=text_headers).status_code == 415
    assert client.post("/api/v1/providers", json=[1, 2], headers=admin_a).status_code == 422


def test_unknown_route_and_method_answer_problem_json(client: TestClient, admin_a: dict[str, str]) -> None:
    missing = client.get("/api/v1/nothing-here", headers=admin_a)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.put("/api/v1/providers", headers=admin_a).status_code == 405


def test_every_mutation_is_audited_without_secrets(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    created = create_provider(ProviderType.CLEVER)
    client.patch(f"/api/v1/providers/{created['id']}", json={"name": "Renamed"}, headers=admin_a)
    client.post(f"/api/v1/providers/{created['id']}/sync", headers=admin_a)
    client.post(f"/api/v1/providers/{created['id']}/sync/cancel", headers=admin_a)
    client.delete(f"/api/v1/providers/{created['id']}", headers=admin_a)
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, action, target_type, tenant_id, details::text, created_at FROM audit_log ORDER BY id")
        ).all()
    assert [r.action for r in rows] == [
        "provider.created",
        "provider.updated",
        "sync.requested",
        "sync.cancelled",
        "provider.deleted",
    ]
    assert {r.actor for r in rows} == {"admin@a"}
    assert {r.tenant_id for r in rows} == {TENANT_A}
    assert all(r.created_at is not None for r in rows)
    for row in rows:
        for secret in SECRETS.values():
            assert secret not in row.details
