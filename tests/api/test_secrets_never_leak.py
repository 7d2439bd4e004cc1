"""No response body, response header, log line or audit entry ever contains a stored secret."""

from __future__ import annotations

import copy
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


def test_masking_is_driven_by_the_secret_fields_of_every_connector_in_this_build() -> None:
    """The real registry, not the stand-ins: whatever a config model declares secret is masked."""
    import json

    from libs.connectors import registry
    from services.api import configs, masking

    types = registry.supported_types()
    if not types:
        pytest.skip("no provider connector is part of this build yet")
    for provider_type in types:
        paths = configs.secret_paths(provider_type)
        assert paths is not None
        config: dict[str, Any] = {}
        for i, path in enumerate(paths):
            *parents, leaf = path.split(".")
            node = config
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = f"SECRET-{i}-{provider_type.value}"
        masked = json.dumps(masking.mask(config, paths))
        assert "SECRET-" not in masked, provider_type
        assert masked.count('"has') == len(paths)
