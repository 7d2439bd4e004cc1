"""No response body, response header, log line or audit entry ever contains a stored secret."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text

from libs.enums import ProviderType
from tests.api.conftest import TENANT_A, RecordingClient, provider_body
from tests.api.fake_connectors import CONFIGS, SECRETS


def test_a_full_session_with_every_provider_type_never_shows_a_secret(
    client: RecordingClient,
    admin_a: dict[str, str],
    platform: dict[str, str],
    db: Engine,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    for provider_type in ProviderType:
        created = client.post("/api/v1/providers", json=provider_body(provider_type), headers=admin_a).json()
        url = f"/api/v1/providers/{created['id']}"
        client.get(url, headers=admin_a)
        client.get(url, headers=platform)
        client.patch(url, json={"config": created["config"], "name": "renamed"}, headers=admin_a)
        client.post(f"{url}/test", headers=admin_a)
        refused = copy.deepcopy(CONFIGS[provider_type])
        if "clientId" in refused:
            refused["clientId"] = "refused"
        client.post(f"{url}/test", json={"config": refused}, headers=admin_a)
        client.post(f"{url}/sync", headers=admin_a)
        client.get(f"{url}/sync/status", headers=admin_a)
        client.get(f"{url}/runs", headers=admin_a)
        client.post(f"{url}/sync/cancel", headers=admin_a)
        # invalid configs that carry secrets: the problem must not echo them
        bad = dict(CONFIGS[provider_type], unexpected=SECRETS["clever-secret"])
        client.post("/api/v1/providers", json=provider_body(provider_type, config=bad), headers=admin_a)
        client.patch(url, json={"config": {"clientSecret": SECRETS["oneroster"]}}, headers=admin_a)
        client.post(
            "/api/v1/providers/test",
            json={"tenantId": TENANT_A, "providerType": provider_type.value, "config": refused},
            headers=admin_a,
        )
        client.delete(url, headers=admin_a)
        client.get(url, headers=platform)
    client.get(f"/api/v1/tenants/{TENANT_A}/providers?includeDeleted=true", headers=platform)

    with db.connect() as conn:
        audit = conn.execute(text("SELECT details::text FROM audit_log")).scalars().all()
        runs = conn.execute(text("SELECT options::text FROM sis_sync_runs")).scalars().all()
    assert len(client.bodies) > 60
    assert len(audit) >= 4 * 5
    haystacks = {
        "responses": "\n".join(client.bodies),
        "logs": "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in all_logs.records),
        "audit": "\n".join(audit),
        "runs": "\n".join(runs),
    }
    for where, haystack in haystacks.items():
        for name, secret in SECRETS.items():
            assert secret not in haystack, f"{name} leaked into {where}"
    assert "********" in haystacks["responses"]  # the masks were there, so the check looked at configs


def test_masking_follows_each_models_secret_fields_for_real_connectors(
    create_provider: Callable[..., dict[str, Any]],
) -> None:
    """Connectors that exist in this build: every declared secret path is masked generically."""
    from libs.connectors import registry
    from services.api import configs, masking

    for provider_type in ProviderType:
        target = registry._CONNECTORS.get(provider_type)
        paths = configs.secret_paths(provider_type)
        assert target is not None
        assert paths is not None
        sample = copy.deepcopy(CONFIGS[provider_type])
        masked = masking.mask(sample, paths)
        for path in paths:
            *parents, leaf = path.split(".")
            node: Any = masked
            for key in parents:
                node = node[key]
            assert node[leaf] in (masking.MASK, None)
            assert ("has" + leaf[0].upper() + leaf[1:]) in node
