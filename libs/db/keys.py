"""Key rotation: re-seal every provider config under the primary key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, text

from libs import audit
from libs.db.crypto import ConfigCipher, DecryptionError


@dataclass(frozen=True)
class RotationResult:
    total: int
    rotated: int


@dataclass(frozen=True)
class UnopenedProvider:
    provider_id: uuid.UUID
    name: str


class UnreadableConfigs(Exception):
    """Some configs open with none of the configured keys; the rotation changed nothing."""

    def __init__(self, providers: list[UnopenedProvider]) -> None:
        self.providers = providers
        super().__init__(f"{len(providers)} provider config(s) open with none of the configured keys")


def rotate_config_keys(engine: Engine, cipher: ConfigCipher, *, actor: str, batch: int = 500) -> RotationResult:
    """Re-encrypt rows sealed by an older key, all or nothing. Idempotent; safe to run while the
    service runs.

    One transaction, rows locked as they are read, so an API update of the same provider waits
    instead of being overwritten by an older plaintext. A config no configured key opens raises
    UnreadableConfigs after every row was looked at, and rolls back what was re-sealed: a
    half-applied rotation would leave the operator unsure which keys are still needed. There is
    one row per SIS connection, so the locks are held for moments; `batch` bounds memory only.
    """
    total = rotated = 0
    unopened: list[UnopenedProvider] = []
    last_id = None
    with engine.begin() as conn:
        while True:
            rows = conn.execute(
                text(
                    "SELECT id, name, config_ciphertext FROM sis_providers "
                    "WHERE (CAST(:last AS uuid) IS NULL OR id > CAST(:last AS uuid)) "
                    "ORDER BY id LIMIT :n FOR UPDATE"
                ),
                {"last": last_id, "n": batch},
            ).all()
            if not rows:
                break
            for row in rows:
                total += 1
                if not cipher.needs_rotation(row.config_ciphertext):
                    continue
                try:
                    sealed = cipher.reencrypt(row.config_ciphertext, provider_id=str(row.id))
                except DecryptionError:
                    unopened.append(UnopenedProvider(provider_id=row.id, name=row.name))
                    continue
                if unopened:
                    # everything will be rolled back; keep looking only to name every such provider
                    continue
                conn.execute(
                    text("UPDATE sis_providers SET config_ciphertext = :c, updated_at = now() WHERE id = :id"),
                    {"c": sealed, "id": row.id},
                )
                rotated += 1
            last_id = str(rows[-1].id)
        if unopened:
            raise UnreadableConfigs(unopened)
        audit.record(
            conn,
            action="keys.rotated",
            actor=actor,
            target_type="sis_providers",
            details={"total": total, "rotated": rotated},
        )
    return RotationResult(total=total, rotated=rotated)
