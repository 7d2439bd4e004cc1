"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT = sa.Text
UUIDS = sa.ARRAY(sa.UUID())
TEXTS = sa.ARRAY(sa.Text())


def _col(name: str, type_: Any, *, null: bool = True, default: str | None = None) -> sa.Column[Any]:
    server_default = None if default is None else sa.text(default)
    return sa.Column(name, type_() if isinstance(type_, type) else type_, server_default=server_default, nullable=null)


def _json(name: str) -> sa.Column[Any]:
    return _col(name, postgresql.JSONB(astext_type=sa.Text()), null=False, default="'{}'::jsonb")


def _stamp(name: str, *, null: bool = True, default: str | None = None) -> sa.Column[Any]:
    return _col(name, sa.DateTime(timezone=True), null=null, default=default)


def _now(name: str) -> sa.Column[Any]:
    return _stamp(name, null=False, default="now()")


def _fk(column: str, table: str, owner: str, **kw: Any) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=op.f(f"fk_{owner}_{column}_{table}"), **kw)


def _roster_table(name: str, *items: Any) -> None:
    """A store table: its own columns, then what every roster record carries."""
    columns = [c for c in items if isinstance(c, sa.Column)]
    fks = [c for c in items if not isinstance(c, sa.Column)]
    op.create_table(
        name,
        *columns,
        _col("id", sa.Uuid, null=False),
        _col("tenant_id", sa.String(length=128), null=False),
        _col("active", sa.Boolean, null=False, default="true"),
        _stamp("deactivated_at"),
        _now("created_at"),
        _now("updated_at"),
        *fks,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(f"ix_{name}_tenant", name, ["tenant_id", "id"], unique=False)


def _staging_table(entity: str, *columns: sa.Column[Any]) -> None:
    """An UNLOGGED staging table: the staging bookkeeping, then the entity's fields."""
    name = f"sis_raw_{entity}"
    op.create_table(
        name,
        _col("run_id", sa.UUID, null=False),
        _col("seq", sa.BigInteger, null=False),
        _col("external_id", TEXT),
        _col("tombstone", sa.Boolean, null=False, default="false"),
        _col("source_ref", TEXT),
        _col("row_hash", sa.LargeBinary),
        _col("raw", postgresql.JSONB(astext_type=sa.Text())),
        *(_col(c, TEXT) for c in ("status", "action")),
        _col("entity_id", sa.UUID),
        *(_col(c, TEXT) for c in ("matched_by", "error")),
        *columns,
        prefixes=["UNLOGGED"],
    )
    op.create_index(f"ix_{name}_run", name, ["run_id", "external_id"], unique=False)


def _texts(*names: str) -> list[sa.Column[Any]]:
    return [_col(n, TEXT) for n in names]


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        _col("tenant_id", sa.String(length=128)),
        _col("actor", sa.String(length=200), null=False),
        _col("action", sa.String(length=64), null=False),
        _col("target_type", sa.String(length=32), null=False),
        _col("target_id", TEXT),
        _json("details"),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_tenant_created", "audit_log", ["tenant_id", "created_at"], unique=False)
    _roster_table(
        "schools",
        _col("name", TEXT, null=False),
        *_texts("school_number", "state_id", "nces_id", "low_grade", "high_grade"),
    )
    provider_types = ("CLEVER", "CLASSLINK", "ONEROSTER_API", "ONEROSTER_CSV")
    op.create_table(
        "sis_providers",
        _col("id", sa.Uuid, null=False),
        _col("tenant_id", sa.String(length=128), null=False),
        _col("provider_type", sa.Enum(*provider_types, name="sis_provider_type"), null=False),
        _col("name", sa.String(length=200), null=False),
        _col("config_ciphertext", sa.LargeBinary, null=False),
        _col("enabled", sa.Boolean, null=False, default="true"),
        _col("sync_schedule", sa.String(length=120)),
        _col("schedule_timezone", sa.String(length=64), null=False, default="'UTC'"),
        *(_stamp(c) for c in ("next_run_at", "last_sync_at", "last_full_sync_at")),
        _json("options"),
        _json("sync_cursor"),
        _stamp("deleted_at"),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_providers")),
    )
    due = sa.text("enabled AND deleted_at IS NULL AND next_run_at IS NOT NULL")
    op.create_index("ix_sis_providers_due", "sis_providers", ["next_run_at"], unique=False, postgresql_where=due)
    op.create_index("ix_sis_providers_tenant", "sis_providers", ["tenant_id"], unique=False)
    _staging_table(
        "classes",
        *_texts("school_external_id", "title", "class_code", "course_external_id", "course_code", "course_title"),
        *(_col(c, TEXTS) for c in ("term_external_ids", "subjects", "grades", "periods")),
        _col("location", TEXT),
    )
    _staging_table(
        "enrollments",
        *_texts("class_external_id", "user_external_id", "school_external_id", "role"),
        _col("is_primary", sa.Boolean),
        _col("begin_date", sa.Date),
        _col("end_date", sa.Date),
    )
    _staging_table("schools", *_texts("name", "school_number", "state_id", "nces_id", "low_grade", "high_grade"))
    _staging_table(
        "terms",
        *_texts("name", "type"),
        _col("start_date", sa.Date),
        _col("end_date", sa.Date),
        *_texts("parent_external_id", "school_year"),
    )
    _staging_table(
        "users",
        *_texts("role", "given_name", "middle_name", "family_name", "email", "username"),
        *_texts("sis_id", "student_number", "state_id"),
        _col("grades", TEXTS),
        _col("school_external_ids", TEXTS),
        _col("primary_school_external_id", TEXT),
        _col("enabled", sa.Boolean),
    )
    _roster_table(
        "terms",
        _col("name", TEXT, null=False),
        _col("type", TEXT),
        _col("start_date", sa.Date),
        _col("end_date", sa.Date),
        _col("parent_id", sa.Uuid),
        _col("school_year", TEXT),
        _fk("parent_id", "terms", "terms"),
    )
    _roster_table(
        "classes",
        _col("school_id", sa.Uuid),
        _col("title", TEXT, null=False),
        *_texts("class_code", "course_code", "course_title"),
        _col("term_ids", UUIDS, null=False, default="'{}'::uuid[]"),
        *(_col(c, TEXTS, null=False, default="'{}'::text[]") for c in ("subjects", "grades", "periods")),
        _col("location", TEXT),
        _fk("school_id", "schools", "classes"),
    )
    op.create_table(
        "sis_entity_links",
        _col("provider_id", sa.Uuid, null=False),
        _col("entity_type", sa.String(length=16), null=False),
        _col("external_id", TEXT, null=False),
        _col("entity_id", sa.Uuid, null=False),
        _col("active", sa.Boolean, null=False, default="true"),
        _col("row_hash", sa.LargeBinary),
        _col("first_seen_run_id", sa.Uuid),
        _col("last_changed_run_id", sa.Uuid),
        _stamp("deactivated_at"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(
            "entity_type IN ('school', 'term', 'class', 'user', 'enrollment')",
            name=op.f("ck_sis_entity_links_entity_type"),
        ),
        _fk("provider_id", "sis_providers", "sis_entity_links"),
        sa.PrimaryKeyConstraint("provider_id", "entity_type", "external_id", name=op.f("pk_sis_entity_links")),
    )
    op.create_index("ix_sis_entity_links_entity", "sis_entity_links", ["entity_id"], unique=False)
    statuses = ("PENDING", "IN_PROGRESS", "SUCCESS", "PARTIAL", "FAILURE", "CANCELLED")
    op.create_table(
        "sis_sync_runs",
        _col("id", sa.Uuid, null=False),
        _col("provider_id", sa.Uuid, null=False),
        _col("tenant_id", sa.String(length=128), null=False),
        _col("status", sa.Enum(*statuses, name="sis_sync_status"), null=False, default="'PENDING'"),
        _col("trigger", sa.String(length=16), null=False),
        _col("is_manual", sa.Boolean, null=False),
        _col("mode", sa.String(length=16), null=False, default="'full'"),
        _col("requested_by", sa.String(length=200)),
        _now("requested_at"),
        _col("schedule_slot", sa.String(length=32)),
        _stamp("started_at"),
        _stamp("completed_at"),
        _col("phase", sa.String(length=32)),
        *(_json(c) for c in ("options", "stats", "timings", "source")),
        _col("error_message", TEXT),
        _col("lease_token", sa.Uuid),
        *(_stamp(c) for c in ("lease_expires_at", "heartbeat_at", "cancel_requested_at")),
        _col("cancel_requested_by", sa.String(length=200)),
        _stamp("dispatched_at"),
        sa.CheckConstraint("mode IN ('full', 'incremental')", name=op.f("ck_sis_sync_runs_mode")),
        sa.CheckConstraint("trigger IN ('manual', 'schedule')", name=op.f("ck_sis_sync_runs_trigger")),
        _fk("provider_id", "sis_providers", "sis_sync_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_sync_runs")),
    )
    for index, columns, unique, where in (
        ("ix_sis_sync_runs_lease", ["lease_expires_at"], False, "status = 'IN_PROGRESS'"),
        ("ix_sis_sync_runs_pending", ["requested_at"], False, "status = 'PENDING'"),
        ("ix_sis_sync_runs_provider_requested", ["provider_id", "requested_at"], False, None),
        ("uq_sis_sync_runs_one_active_per_provider", ["provider_id"], True, "status IN ('PENDING', 'IN_PROGRESS')"),
        ("uq_sis_sync_runs_schedule_slot", ["provider_id", "schedule_slot"], True, "schedule_slot IS NOT NULL"),
    ):
        partial: dict[str, Any] = {} if where is None else {"postgresql_where": sa.text(where)}
        op.create_index(index, "sis_sync_runs", columns, unique=unique, **partial)
    _roster_table(
        "users",
        _col("role", sa.String(length=32), null=False),
        *_texts("given_name", "middle_name", "family_name", "email", "username", "sis_id", "student_number"),
        _col("state_id", TEXT),
        _col("grades", TEXTS, null=False, default="'{}'::text[]"),
        _col("school_ids", UUIDS, null=False, default="'{}'::uuid[]"),
        _col("primary_school_id", sa.Uuid),
        _col("enabled", sa.Boolean, null=False, default="true"),
        _fk("primary_school_id", "schools", "users"),
    )
    op.create_index("ix_users_tenant_email", "users", ["tenant_id", sa.literal_column("lower(email)")], unique=False)
    op.create_index("ix_users_tenant_student_number", "users", ["tenant_id", "student_number"], unique=False)
    _roster_table(
        "enrollments",
        _col("class_id", sa.Uuid, null=False),
        _col("user_id", sa.Uuid, null=False),
        _col("school_id", sa.Uuid),
        _col("role", sa.String(length=32), null=False),
        _col("is_primary", sa.Boolean, null=False, default="false"),
        _col("begin_date", sa.Date),
        _col("end_date", sa.Date),
    )
    op.create_index("ix_enrollments_class", "enrollments", ["class_id"], unique=False)
    op.create_index("ix_enrollments_user", "enrollments", ["user_id"], unique=False)
    op.create_table(
        "sis_sync_errors",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        _col("run_id", sa.Uuid, null=False),
        _col("entity_type", sa.String(length=16)),
        *_texts("external_id", "source"),
        _col("line", sa.Integer),
        _col("field", TEXT),
        _col("code", sa.String(length=64), null=False),
        _col("message", TEXT, null=False),
        _now("created_at"),
        _fk("run_id", "sis_sync_runs", "sis_sync_errors", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_sync_errors")),
    )
    op.create_index("ix_sis_sync_errors_run", "sis_sync_errors", ["run_id", "id"], unique=False)
    op.create_table(
        "sis_sync_run_steps",
        _col("run_id", sa.Uuid, null=False),
        _col("step", sa.String(length=200), null=False),
        _col("status", sa.String(length=16), null=False, default="'pending'"),
        _col("records", sa.BigInteger, null=False, default="0"),
        _json("detail"),
        _stamp("started_at"),
        _stamp("finished_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'skipped')", name=op.f("ck_sis_sync_run_steps_status")
        ),
        _fk("run_id", "sis_sync_runs", "sis_sync_run_steps", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "step", name=op.f("pk_sis_sync_run_steps")),
    )


# dropping a table drops its indexes; children go before the tables they reference
TABLES = (
    "audit_log",
    "schools",
    "sis_providers",
    *(f"sis_raw_{e}" for e in ("classes", "enrollments", "schools", "terms", "users")),
    "terms",
    "classes",
    "sis_entity_links",
    "sis_sync_runs",
    "users",
    "enrollments",
    "sis_sync_errors",
    "sis_sync_run_steps",
)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    sa.Enum(name="sis_sync_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="sis_provider_type").drop(op.get_bind(), checkfirst=True)
