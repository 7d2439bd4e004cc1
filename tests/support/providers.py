"""Providers and runs for tests, created the way the API creates them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, text

from libs.db.dev_secrets import config_cipher
from libs.db.settings import Settings
from libs.enums import ProviderType, SyncMode, SyncTrigger
from libs.etl import runs


def create_provider(
    engine: Engine,
    settings: Settings,
    *,
    provider_type: ProviderType,
    config: dict[str, Any],
    tenant_id: str = "district-1",
    name: str = "Test provider",
    options: dict[str, Any] | None = None,
    enabled: bool = True,
) -> uuid.UUID:
    import json

    provider_id = uuid.uuid4()
    sealed = config_cipher(settings).encrypt(config, provider_id=str(provider_id))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_providers (id, tenant_id, provider_type, name, config_ciphertext, options, enabled) "
                "VALUES (:id, :t, :type, :name, :c, CAST(:o AS jsonb), :enabled)"
            ),
            {
                "id": provider_id,
                "t": tenant_id,
                "type": provider_type.value,
                "name": name,
                "c": sealed,
                "o": json.dumps(options or {}),
                "enabled": enabled,
            },
        )
    return provider_id


def update_config(engine: Engine, settings: Settings, provider_id: uuid.UUID, config: dict[str, Any]) -> None:
    sealed = config_cipher(settings).encrypt(config, provider_id=str(provider_id))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE sis_providers SET config_ciphertext = :c WHERE id = :id"), {"c": sealed, "id": provider_id}
        )


def request(
    engine: Engine,
    provider_id: uuid.UUID,
    *,
    mode: SyncMode = SyncMode.FULL,
    options: dict[str, Any] | None = None,
) -> runs.RunRequest:
    with engine.begin() as conn:
        return runs.request_run(
            conn, provider_id, trigger=SyncTrigger.MANUAL, requested_by="test", mode=mode, options=options
        )


def run_row(engine: Engine, run_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM sis_sync_runs WHERE id = :r"), {"r": run_id}).one()
    return dict(row._mapping)


def store_counts(engine: Engine, tenant_id: str) -> dict[str, tuple[int, int]]:
    """(active, inactive) per roster table of a tenant."""
    out = {}
    with engine.connect() as conn:
        for table in ("schools", "terms", "classes", "users", "enrollments"):
            row = conn.execute(
                text(
                    f"SELECT count(*) FILTER (WHERE active) AS a, count(*) FILTER (WHERE NOT active) AS i "
                    f"FROM {table} WHERE tenant_id = :t"
                ),
                {"t": tenant_id},
            ).one()
            out[table] = (int(row.a), int(row.i))
    return out


def store_versions(engine: Engine) -> dict[str, set[tuple[str, str]]]:
    """Every roster and link row with its xmin: equal before and after means nothing was written."""
    out = {}
    with engine.connect() as conn:
        for table in ("schools", "terms", "classes", "users", "enrollments"):
            out[table] = {(str(r[0]), str(r[1])) for r in conn.execute(text(f"SELECT id, xmin FROM {table}"))}
        out["sis_entity_links"] = {
            (f"{r[0]}/{r[1]}/{r[2]}", str(r[3]))
            for r in conn.execute(text("SELECT provider_id, entity_type, external_id, xmin FROM sis_entity_links"))
        }
    return out
