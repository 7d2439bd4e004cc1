"""Key rotation: re-seal every provider config under the primary key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from libs.db.crypto import ConfigCipher


@dataclass(frozen=True)
class RotationResult:
    total: int
    rotated: int


def rotate_config_keys(engine: Engine, cipher: ConfigCipher, *, actor: str, batch: int = 500) -> RotationResult:
    """Re-encrypt rows sealed by an older key. Idempotent; safe to run while the service runs.

    Each batch is one transaction with rows locked, so an API update of the same provider
    waits for the batch instead of being overwritten by an older plaintext.
    """
    total = rotated = 0
    last_id = None
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, config_ciphertext FROM sis_providers "
                    "WHERE (CAST(:last AS uuid) IS NULL OR id > CAST(:last AS uuid)) "
                    "ORDER BY id LIMIT :n FOR UPDATE"
                ),
                {"last": last_id, "n": batch},
            ).all()
            if not rows:
                break
            for row in rows:
                total += 1
                if cipher.needs_rotation(row.config_ciphertext):
                    sealed = cipher.reencrypt(row.config_ciphertext, provider_id=str(row.id))
                    conn.execute(
                        text("UPDATE sis_providers SET config_ciphertext = :c, updated_at = now() WHERE id = :id"),
                        {"c": sealed, "id": row.id},
                    )
                    rotated += 1
            last_id = str(rows[-1].id)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (actor, action, target_type, details) "
                "VALUES (:actor, 'keys.rotated', 'sis_providers', CAST(:details AS jsonb))"
            ),
            {"actor": actor, "details": f'{{"total": {total}, "rotated": {rotated}}}'},
        )
    return RotationResult(total=total, rotated=rotated)
