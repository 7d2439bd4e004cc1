"""Sync runs, their steps (fan-in is recorded here), and per-record errors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.models.base import Base, new_id
from libs.enums import SyncStatus

sync_status_enum = Enum(SyncStatus, name="sis_sync_status", values_callable=lambda e: [m.value for m in e])


class SisSyncRun(Base):
    __tablename__ = "sis_sync_runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sis_providers.id"))
    tenant_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[SyncStatus] = mapped_column(sync_status_enum, server_default=text("'PENDING'"))
    trigger: Mapped[str] = mapped_column(String(16))
    is_manual: Mapped[bool] = mapped_column(Boolean)
    mode: Mapped[str] = mapped_column(String(16), server_default=text("'full'"))
    requested_by: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # local wall-clock slot a scheduled run fires for; unique per provider so a DST
    # fall-back day cannot fire the same 01:30 twice
    schedule_slot: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    phase: Mapped[str | None] = mapped_column(String(32))
    # per-run choices, e.g. {"allowMassDeactivation": true} to apply what a guard held back
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    stats: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    timings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # what the run read: package name/size/sha256, pages fetched, retries...
    source: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    error_message: Mapped[str | None] = mapped_column(Text)
    lease_token: Mapped[uuid.UUID | None]
    lease_expires_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    cancel_requested_by: Mapped[str | None] = mapped_column(String(200))
    # last time a message for the current phase was handed to the broker
    dispatched_at: Mapped[datetime | None]
    # a HELD run: when its plan was made (the store may not move for its entities after this)
    # and when it expires (HELD_PLAN_TTL_HOURS)
    held_at: Mapped[datetime | None]
    held_until: Mapped[datetime | None]
    # a sync reads the source; an undo takes back what another run applied (libs/etl/undo.py)
    kind: Mapped[str] = mapped_column(String(8), server_default=text("'sync'"))
    # when LEDGER_RETENTION_DAYS dropped the run's change ledger: it can no longer be undone
    ledger_pruned_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("trigger IN ('manual', 'schedule')", name="trigger"),
        CheckConstraint("kind IN ('sync', 'undo')", name="kind"),
        CheckConstraint("mode IN ('full', 'incremental')", name="mode"),
        # "one run per provider" is a constraint, not a convention
        Index(
            "uq_sis_sync_runs_one_active_per_provider",
            "provider_id",
            unique=True,
            postgresql_where=text("status IN ('PENDING', 'IN_PROGRESS')"),
        ),
        Index(
            "uq_sis_sync_runs_schedule_slot",
            "provider_id",
            "schedule_slot",
            unique=True,
            postgresql_where=text("schedule_slot IS NOT NULL"),
        ),
        Index("ix_sis_sync_runs_provider_requested", "provider_id", "requested_at"),
        Index(
            "ix_sis_sync_runs_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'IN_PROGRESS'"),
        ),
        Index("ix_sis_sync_runs_pending", "requested_at", postgresql_where=text("status = 'PENDING'")),
        Index("ix_sis_sync_runs_held", "held_until", postgresql_where=text("status = 'HELD'")),
    )


class SisSyncRunStep(Base):
    """One unit of work of a run (an extract partition, a load of one entity type...)."""

    __tablename__ = "sis_sync_run_steps"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sis_sync_runs.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    records: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # "<host>/<pid>" of the worker that last took the step (steps.worker_identity)
    worker: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'done', 'failed', 'skipped', 'cancelled')", name="status"),
    )


class SisSyncError(Base):
    """A per-record problem found while reading, staging or loading (file/line or page)."""

    __tablename__ = "sis_sync_errors"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sis_sync_runs.id", ondelete="CASCADE"))
    entity_type: Mapped[str | None] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("ix_sis_sync_errors_run", "run_id", "id"),)


class SisChangeLedger(Base):
    """What a run changed, per store row and link row: the action and the row as it was before
    (a created row: only its key). Written set-based with the writes it records; an undo reads it."""

    __tablename__ = "sis_change_ledger"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sis_sync_runs.id", ondelete="CASCADE"))
    # 'entity' (a store row, keyed by entity_id) or 'link' (keyed by provider, type, external id)
    target: Mapped[str] = mapped_column(String(8))
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[uuid.UUID | None]
    provider_id: Mapped[uuid.UUID | None]
    external_id: Mapped[str | None] = mapped_column(Text)
    # create, update, deactivate
    action: Mapped[str] = mapped_column(String(16))
    # the whole row before the change (to_jsonb); NULL for a created row
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # the keys of every row one statement created (entity ids as text, or external ids): one
    # ledger row for all of them, so a district's first sync writes a handful of ledger rows
    created: Mapped[list[str] | None] = mapped_column(ARRAY(Text))

    __table_args__ = (
        CheckConstraint("target IN ('entity', 'link')", name="target"),
        Index("ix_sis_change_ledger_run", "run_id", "id"),
    )
