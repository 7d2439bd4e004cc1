"""A provider as a run sees it: options, cursor, sealed config; and its connector.

The config is decrypted only by the phases that talk to the source (`needs_config` in the
phase table), never by the set-based phases that work on staging and the store.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from libs.connectors.base import Connector, ConnectorContext
from libs.connectors.egress import EgressPolicy
from libs.connectors.registry import build_connector
from libs.db.crypto import ConfigCipher, DecryptionError
from libs.enums import ProviderType, RunKind, SyncMode
from libs.etl.context import EtlContext
from libs.etl.details import RunOptions
from libs.etl.options import ProviderOptions


class ConfigUnreadable(DecryptionError):
    """The run's provider config does not open with the configured keys.

    No retry can fix that (only an operator, by restoring the key it was sealed with), so the
    phase guard ends the run FAILURE with `message` at once instead of leaving it to the
    actor's retries. The message carries the cipher's reason only, never ciphertext or keys.
    """

    def __init__(self, reason: str) -> None:
        self.message = (
            f"The provider's config cannot be decrypted: {reason}; "
            "CONFIG_ENCRYPTION_KEYS must include the key it was saved with"
        )
        super().__init__(self.message)


@dataclass(frozen=True)
class RunProvider:
    run_id: uuid.UUID
    provider_id: uuid.UUID
    tenant_id: str
    provider_type: ProviderType
    config_ciphertext: bytes
    options: ProviderOptions
    cursor: dict[str, Any]
    mode: SyncMode
    run_options: RunOptions
    kind: RunKind = RunKind.SYNC

    def decrypt(self, cipher: ConfigCipher) -> dict[str, Any]:
        try:
            return cipher.decrypt(self.config_ciphertext, provider_id=str(self.provider_id))
        except DecryptionError as exc:
            raise ConfigUnreadable(str(exc)) from None


def load_run(conn: Connection, run_id: uuid.UUID | str) -> RunProvider:
    row = conn.execute(
        text(
            """
            SELECT r.id AS run_id, r.mode, r.kind, r.options AS run_options, p.id, p.tenant_id, p.provider_type,
                   p.config_ciphertext, p.options, p.sync_cursor
              FROM sis_sync_runs r JOIN sis_providers p ON p.id = r.provider_id
             WHERE r.id = :r
            """
        ),
        {"r": run_id},
    ).one()
    return RunProvider(
        run_id=row.run_id,
        provider_id=row.id,
        tenant_id=row.tenant_id,
        provider_type=ProviderType(row.provider_type),
        config_ciphertext=bytes(row.config_ciphertext),
        options=ProviderOptions.from_stored(row.options),
        cursor=dict(row.sync_cursor or {}),
        mode=SyncMode(row.mode),
        run_options=RunOptions.model_validate(row.run_options or {}),
        kind=RunKind(row.kind),
    )


def connector_for(ctx: EtlContext, provider: RunProvider, config: dict[str, Any]) -> Connector:
    work_dir = ctx.settings.data_dir / "work" / str(provider.run_id)
    work_dir.mkdir(parents=True, exist_ok=True)
    context = ConnectorContext(
        provider_id=provider.provider_id,
        tenant_id=provider.tenant_id,
        mode=provider.mode,
        options=provider.options.to_stored(),
        cursor=provider.cursor,
        redis=ctx.redis,
        redis_namespace=ctx.settings.redis_namespace,
        allow_local_paths=ctx.settings.allow_local_csv_paths,
        work_dir=work_dir,
        egress=EgressPolicy.from_settings(ctx.settings),
        sftp_key_dir=ctx.settings.sftp_key_dir,
        retry_budget_seconds=ctx.settings.source_retry_budget_seconds,
        csv_max_uncompressed_bytes=ctx.settings.csv_max_uncompressed_bytes,
    )
    return build_connector(provider.provider_type, config, context)
