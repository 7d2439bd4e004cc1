"""SIS provider configurations (one per connected source of a tenant)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Enum, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.models.base import Base, Timestamps, new_id
from libs.enums import ProviderType

provider_type_enum = Enum(ProviderType, name="sis_provider_type", values_callable=lambda e: [m.value for m in e])


class SisProvider(Timestamps, Base):
    __tablename__ = "sis_providers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(128))
    provider_type: Mapped[ProviderType] = mapped_column(provider_type_enum)
    name: Mapped[str] = mapped_column(String(200))
    # AES-GCM ciphertext bound to this row's id (libs.db.crypto); never the clear JSON.
    config_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    sync_schedule: Mapped[str | None] = mapped_column(String(120))
    schedule_timezone: Mapped[str] = mapped_column(String(64), server_default=text("'UTC'"))
    next_run_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    last_full_sync_at: Mapped[datetime | None]
    # matching, creation and safety-guard options (camelCase keys, as the API speaks them)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # connector bookmarks for incremental syncs (last event id, last modified time...)
    sync_cursor: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    deleted_at: Mapped[datetime | None]
    # since when no sync succeeded within alertAfterHours (provider.stale was announced); NULL: fresh
    stale_since: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_sis_providers_tenant", "tenant_id"),
        Index(
            "ix_sis_providers_due",
            "next_run_at",
            postgresql_where=text("enabled AND deleted_at IS NULL AND next_run_at IS NOT NULL"),
        ),
    )
