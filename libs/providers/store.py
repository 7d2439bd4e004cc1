"""The `sis_providers` rows: read, insert, change, soft delete."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, text

from libs.providers.errors import ProviderNotFound


@dataclass(frozen=True)
class StoredProvider:
    """A row as stored: the config sealed, the options as their JSON."""

    id: uuid.UUID
    tenant_id: str
    provider_type: str
    name: str
    config_ciphertext: bytes
    enabled: bool
    sync_schedule: str | None
    schedule_timezone: str
    next_run_at: datetime | None
    last_sync_at: datetime | None
    last_full_sync_at: datetime | None
    options: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    stale_since: datetime | None = None


COLUMNS = ", ".join(f.name for f in dataclasses.fields(StoredProvider))


def _stored(row: Row[Any]) -> StoredProvider:
    return StoredProvider(**row._mapping)


def get(conn: Connection, provider_id: uuid.UUID, *, lock: bool = False) -> StoredProvider:
    """The provider, deleted or not (`lock`: FOR UPDATE); ProviderNotFound when there is none."""
    row = conn.execute(
        text(f"SELECT {COLUMNS} FROM sis_providers WHERE id = :id" + (" FOR UPDATE" if lock else "")),
        {"id": provider_id},
    ).first()
    if row is None:
        raise ProviderNotFound(provider_id)
    return _stored(row)


def of_tenant(conn: Connection, tenant_id: str, *, include_deleted: bool = False) -> list[StoredProvider]:
    deleted = "" if include_deleted else "AND deleted_at IS NULL"
    rows = conn.execute(
        text(f"SELECT {COLUMNS} FROM sis_providers WHERE tenant_id = :t {deleted} ORDER BY created_at, id"),
        {"t": tenant_id},
    )
    return [_stored(row) for row in rows]


def insert(conn: Connection, values: dict[str, Any]) -> StoredProvider:
    """A new row of `values` (column -> value; `options` as JSON text)."""
    names = ", ".join(values)
    params = ", ".join(f"CAST(:{k} AS jsonb)" if k == "options" else f":{k}" for k in values)
    sql = f"INSERT INTO sis_providers ({names}) VALUES ({params}) RETURNING {COLUMNS}"
    return _stored(conn.execute(text(sql), values).one())


def change(conn: Connection, provider_id: uuid.UUID, changes: dict[str, Any]) -> StoredProvider:
    """Set `changes` (column -> value; `options` as JSON text) and `updated_at`."""
    assignments = "".join(f"{k} = CAST(:{k} AS jsonb), " if k == "options" else f"{k} = :{k}, " for k in changes)
    sql = f"UPDATE sis_providers SET {assignments}updated_at = now() WHERE id = :id RETURNING {COLUMNS}"
    return _stored(conn.execute(text(sql), {**changes, "id": provider_id}).one())


def active_run(conn: Connection, provider_id: uuid.UUID) -> uuid.UUID | None:
    """The provider's pending or in-progress run, if any."""
    return conn.execute(
        text("SELECT id FROM sis_sync_runs WHERE provider_id = :p AND status IN ('PENDING', 'IN_PROGRESS')"),
        {"p": provider_id},
    ).scalar()


def soft_delete(conn: Connection, provider_id: uuid.UUID) -> None:
    conn.execute(
        text(
            "UPDATE sis_providers SET deleted_at = now(), enabled = false, next_run_at = NULL, "
            "updated_at = now() WHERE id = :id"
        ),
        {"id": provider_id},
    )
