"""Providers created directly in the database, sealed the way the API seals them (the tests and
`make bench`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Engine, text

from libs.db.dev_secrets import config_cipher
from libs.enums import ProviderType
from libs.settings import Settings


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
            text("UPDATE sis_providers SET config_ciphertext = :c, updated_at = now() WHERE id = :id"),
            {"c": sealed, "id": provider_id},
        )
