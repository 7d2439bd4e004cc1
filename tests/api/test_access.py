"""Who may call what: the role x tenant matrix over every declared operation."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.enums import ProviderType
from services.api.endpoint import OPERATIONS, Operation
from tests.api.conftest import TENANT_A, TENANT_B, auth, provider_body

OPS = [pytest.param(op, id=f"{op.method} {op.path}") for op in OPERATIONS]


def _fill(op: Operation, *, tenant: str, provider_id: str, run_id: str, webhook_id: str = "") -> str:
    path = op.path.format(tenantId=tenant, providerId=provider_id, runId=run_id, webhookId=webhook_id or uuid.uuid4())
    return path + "?cron=daily" if op.path.endswith("/preview") else path


def _body(op: Operation, tenant: str) -> dict[str, Any] | None:
    if op.path == "/api/v1/providers":
        return provider_body(ProviderType.CLEVER, tenant)
    if op.path == "/api/v1/providers/test":
        body = provider_body(ProviderType.CLEVER, tenant)
        return {k: body[k] for k in ("tenantId", "providerType", "config")}
    if "/webhooks" in op.path:
        hook = {"url": "http://127.0.0.1:9/in", "events": ["run.failed"]}
        return {"enabled": True} if op.method == "PATCH" else hook if op.path.endswith("/webhooks") else None
    if op.method == "PATCH":
        return {"name": "changed"}
    return None


@pytest.fixture
def b_world(client: TestClient, admin_b: dict[str, str], db: Engine) -> dict[str, str]:
    """A provider of tenant B with one finished run, and a webhook of tenant B."""
    created = client.post("/api/v1/providers", json=provider_body(tenant=TENANT_B), headers=admin_b).json()
    hook = {"url": "http://127.0.0.1:9/in", "events": ["run.failed"]}
    webhook = client.post(f"/api/v1/tenants/{TENANT_B}/webhooks", json=hook, headers=admin_b).json()
    run_id = uuid.uuid4()
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, completed_at) "
                "VALUES (:id, :p, :t, 'SUCCESS', 'manual', true, now())"
            ),
            {"id": run_id, "p": created["id"], "t": TENANT_B},
        )
    return {"provider_id": created["id"], "run_id": str(run_id), "webhook_id": webhook["id"]}


@pytest.mark.parametrize("op", OPS)
def test_district_admin_of_a_cannot_reach_tenant_b(
    client: TestClient, admin_a: dict[str, str], b_world: dict[str, str], op: Operation
) -> None:
    path = _fill(op, tenant=TENANT_B, **b_world)
    response = client.request(op.method, path, json=_body(op, TENANT_B), headers=admin_a)
    if any(f"{{{name}}}" in op.path for name in ("providerId", "runId", "webhookId")):
        # ids of another tenant look exactly like ids that do not exist
        assert response.status_code == 404, response.text
        missing = client.request(
            op.method,
            _fill(op, tenant=TENANT_A, provider_id=str(uuid.uuid4()), run_id=str(uuid.uuid4())),
            json=_body(op, TENANT_A),
            headers=admin_a,
        )
        assert missing.status_code == 404
        assert missing.json()["detail"] == response.json()["detail"]
    elif "{tenantId}" in op.path or op.method == "POST" or op.path == "/api/v1/webhooks":  # platform-wide webhooks
        assert response.status_code == 403, response.text
    else:
        assert response.status_code == 200  # tenant-neutral reference data


@pytest.mark.parametrize("op", OPS)
def test_platform_admin_reaches_every_tenant(
    client: TestClient, platform: dict[str, str], b_world: dict[str, str], op: Operation
) -> None:
    path = _fill(op, tenant=TENANT_B, **b_world)
    response = client.request(op.method, path, json=_body(op, TENANT_B), headers=platform)
    assert response.status_code < 400 or response.status_code == 409, response.text


def _bad_tokens(secret: str) -> dict[str, tuple[dict[str, str], int]]:
    now = int(time.time())

    def sign(claims: dict[str, Any], key: str = secret) -> dict[str, str]:
        return auth(jwt.encode(claims, key, algorithm="HS256"))

    good = {"sub": "x", "roles": ["DISTRICT_ADMIN"], "tenant_id": TENANT_A, "exp": now + 600}
    return {
        "no token": ({}, 401),
        "not bearer": ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        "garbage": (auth("not-a-jwt"), 401),
        "expired": (sign({**good, "exp": now - 10}), 401),
        "wrong signature": (sign(good, "another-secret-" + "y" * 40), 401),
        "alg none": (auth(jwt.encode(good, None, algorithm="none")), 401),
        "no exp": (sign({k: v for k, v in good.items() if k != "exp"}), 401),
        "roles not a list": (sign({**good, "roles": "DISTRICT_ADMIN"}), 401),
        "teacher role": (sign({**good, "roles": ["TEACHER"]}), 403),
        "no roles": (sign({**good, "roles": []}), 403),
        "district admin without tenant": (sign({k: v for k, v in good.items() if k != "tenant_id"}), 403),
    }


@pytest.mark.parametrize("op", OPS)
def test_bad_tokens_are_refused_everywhere(
    client: TestClient, api_settings: Any, b_world: dict[str, str], op: Operation
) -> None:
    path = _fill(op, tenant=TENANT_A, **b_world)
    for name, (headers, status) in _bad_tokens(api_settings.auth_jwt_secret).items():
        response = client.request(op.method, path, json=_body(op, TENANT_A), headers=headers)
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_issuer_and_audience_are_checked_when_configured(
    db: Engine, api_settings: Any, connectors: None, token: Callable[..., str]
) -> None:
    from libs.auth import mint_token
    from services.api.app import create_app

    strict = api_settings.model_copy(update={"auth_jwt_issuer": "https://idp", "auth_jwt_audience": "sis-sync"})
    secret = api_settings.auth_jwt_secret
    with TestClient(create_app(strict)) as c:
        url = f"/api/v1/tenants/{TENANT_A}/providers"
        plain = mint_token(secret, subject="a", roles=["DISTRICT_ADMIN"], tenant_id=TENANT_A)
        assert c.get(url, headers=auth(plain)).status_code == 401
        right = mint_token(
            secret, subject="a", roles=["DISTRICT_ADMIN"], tenant_id=TENANT_A, issuer="https://idp", audience="sis-sync"
        )
        assert c.get(url, headers=auth(right)).status_code == 200


def test_deleted_provider_history_is_readable_by_platform_admins_only(
    client: TestClient, admin_b: dict[str, str], platform: dict[str, str], b_world: dict[str, str]
) -> None:
    provider_id, run_id = b_world["provider_id"], b_world["run_id"]
    assert client.delete(f"/api/v1/providers/{provider_id}", headers=admin_b).status_code == 200
    for path in (f"/api/v1/providers/{provider_id}", f"/api/v1/providers/{provider_id}/runs", f"/api/v1/runs/{run_id}"):
        assert client.get(path, headers=admin_b).status_code == 404
        assert client.get(path, headers=platform).status_code == 200
    runs = client.get(f"/api/v1/providers/{provider_id}/runs", headers=platform).json()
    assert [r["id"] for r in runs["runs"]] == [run_id]
    listed = client.get(f"/api/v1/tenants/{TENANT_B}/providers?includeDeleted=true", headers=platform).json()
    assert listed["providers"][0]["deletedAt"] is not None
    assert client.get(f"/api/v1/tenants/{TENANT_B}/providers", headers=platform).json()["providers"] == []
    assert client.get(f"/api/v1/tenants/{TENANT_B}/providers?includeDeleted=true", headers=admin_b).status_code == 403
