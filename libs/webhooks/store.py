"""The `sis_webhooks` rows and their delivery log.

The signing secret (`whsec_` + base64 of 32 random bytes, as Standard Webhooks has it) is sealed
with the provider-config cipher, bound to the webhook's id, and shown only by `create`.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from libs.db.crypto import ConfigCipher


@dataclass(frozen=True)
class StoredWebhook:
    id: uuid.UUID
    tenant_id: str | None
    url: str
    events: list[str]
    enabled: bool
    secret_ciphertext: bytes
    failing_since: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


COLUMNS = ", ".join(f.name for f in dataclasses.fields(StoredWebhook))
DELIVERY_COLUMNS = "id, message_id, event, attempt, status_code, duration_ms, error, response_excerpt, created_at"


def _bound(webhook_id: uuid.UUID) -> str:
    # the cipher's associated data: a sealed secret copied onto another row does not open
    return f"webhook:{webhook_id}"


def open_secret(cipher: ConfigCipher, row: StoredWebhook) -> str:
    return str(cipher.decrypt(row.secret_ciphertext, provider_id=_bound(row.id))["secret"])


def create(
    conn: Connection, cipher: ConfigCipher, *, tenant_id: str | None, url: str, events: list[str], enabled: bool
) -> tuple[StoredWebhook, str]:
    """A new webhook and its signing secret (the only time the secret leaves the database)."""
    webhook_id = uuid.uuid4()
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    row = conn.execute(
        text(
            f"INSERT INTO sis_webhooks (id, tenant_id, url, events, enabled, secret_ciphertext) "
            f"VALUES (:id, :t, :url, :events, :enabled, :secret) RETURNING {COLUMNS}"
        ),
        {
            "id": webhook_id,
            "t": tenant_id,
            "url": url,
            "events": events,
            "enabled": enabled,
            "secret": cipher.encrypt({"secret": secret}, provider_id=_bound(webhook_id)),
        },
    ).one()
    return StoredWebhook(**row._mapping), secret


def get(conn: Connection, webhook_id: uuid.UUID, *, lock: bool = False) -> StoredWebhook | None:
    lock_clause = " FOR UPDATE" if lock else ""
    row = conn.execute(text(f"SELECT {COLUMNS} FROM sis_webhooks WHERE id = :id{lock_clause}"), {"id": webhook_id})
    found = row.first()
    return StoredWebhook(**found._mapping) if found is not None else None


def of_tenant(conn: Connection, tenant_id: str | None) -> list[StoredWebhook]:
    """A tenant's webhooks; None: the platform-wide ones."""
    where = "tenant_id = :t" if tenant_id is not None else "tenant_id IS NULL"
    sql = f"SELECT {COLUMNS} FROM sis_webhooks WHERE {where} ORDER BY created_at, id"
    rows = conn.execute(text(sql), {"t": tenant_id})
    return [StoredWebhook(**row._mapping) for row in rows]


def change(conn: Connection, webhook_id: uuid.UUID, changes: dict[str, Any]) -> StoredWebhook:
    """Set `changes`; enabling a webhook forgets its failures, so it gets a fresh day."""
    if changes.get("enabled"):
        changes = {**changes, "failing_since": None, "disabled_reason": None}
    assignments = "".join(f"{k} = :{k}, " for k in changes)
    row = conn.execute(
        text(f"UPDATE sis_webhooks SET {assignments}updated_at = now() WHERE id = :id RETURNING {COLUMNS}"),
        {**changes, "id": webhook_id},
    ).one()
    return StoredWebhook(**row._mapping)


def delete(conn: Connection, webhook_id: uuid.UUID) -> None:
    conn.execute(text("DELETE FROM sis_webhooks WHERE id = :id"), {"id": webhook_id})


def deliveries(conn: Connection, webhook_id: uuid.UUID, *, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(f"SELECT {DELIVERY_COLUMNS} FROM sis_webhook_deliveries WHERE webhook_id = :w ORDER BY id DESC LIMIT :n"),
        {"w": webhook_id, "n": limit},
    )
    return [dict(row._mapping) for row in rows]
