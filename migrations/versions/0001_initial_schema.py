"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=True),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_tenant_created", "audit_log", ["tenant_id", "created_at"], unique=False)
    op.create_table(
        "schools",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("school_number", sa.Text(), nullable=True),
        sa.Column("state_id", sa.Text(), nullable=True),
        sa.Column("nces_id", sa.Text(), nullable=True),
        sa.Column("low_grade", sa.Text(), nullable=True),
        sa.Column("high_grade", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schools")),
    )
    op.create_index("ix_schools_tenant", "schools", ["tenant_id", "id"], unique=False)
    op.create_table(
        "sis_providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column(
            "provider_type",
            sa.Enum("CLEVER", "CLASSLINK", "ONEROSTER_API", "ONEROSTER_CSV", name="sis_provider_type"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("sync_schedule", sa.String(length=120), nullable=True),
        sa.Column("schedule_timezone", sa.String(length=64), server_default=sa.text("'UTC'"), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_full_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "options", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "sync_cursor",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_providers")),
    )
    op.create_index(
        "ix_sis_providers_due",
        "sis_providers",
        ["next_run_at"],
        unique=False,
        postgresql_where=sa.text("enabled AND deleted_at IS NULL AND next_run_at IS NOT NULL"),
    )
    op.create_index("ix_sis_providers_tenant", "sis_providers", ["tenant_id"], unique=False)
    op.create_table(
        "sis_raw_classes",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("tombstone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=True),
        sa.Column("row_hash", sa.LargeBinary(), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("matched_by", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("school_external_id", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("class_code", sa.Text(), nullable=True),
        sa.Column("course_external_id", sa.Text(), nullable=True),
        sa.Column("course_code", sa.Text(), nullable=True),
        sa.Column("course_title", sa.Text(), nullable=True),
        sa.Column("term_external_ids", sa.ARRAY(sa.Text()), nullable=True),
        sa.Column("subjects", sa.ARRAY(sa.Text()), nullable=True),
        sa.Column("grades", sa.ARRAY(sa.Text()), nullable=True),
        sa.Column("periods", sa.ARRAY(sa.Text()), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_sis_raw_classes_run", "sis_raw_classes", ["run_id", "external_id"], unique=False)
    op.create_table(
        "sis_raw_enrollments",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("tombstone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=True),
        sa.Column("row_hash", sa.LargeBinary(), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("matched_by", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("class_external_id", sa.Text(), nullable=True),
        sa.Column("user_external_id", sa.Text(), nullable=True),
        sa.Column("school_external_id", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=True),
        sa.Column("begin_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_sis_raw_enrollments_run", "sis_raw_enrollments", ["run_id", "external_id"], unique=False)
    op.create_table(
        "sis_raw_schools",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("tombstone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=True),
        sa.Column("row_hash", sa.LargeBinary(), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("matched_by", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("school_number", sa.Text(), nullable=True),
        sa.Column("state_id", sa.Text(), nullable=True),
        sa.Column("nces_id", sa.Text(), nullable=True),
        sa.Column("low_grade", sa.Text(), nullable=True),
        sa.Column("high_grade", sa.Text(), nullable=True),
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_sis_raw_schools_run", "sis_raw_schools", ["run_id", "external_id"], unique=False)
    op.create_table(
        "sis_raw_terms",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("tombstone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=True),
        sa.Column("row_hash", sa.LargeBinary(), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("matched_by", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("parent_external_id", sa.Text(), nullable=True),
        sa.Column("school_year", sa.Text(), nullable=True),
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_sis_raw_terms_run", "sis_raw_terms", ["run_id", "external_id"], unique=False)
    op.create_table(
        "sis_raw_users",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("tombstone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=True),
        sa.Column("row_hash", sa.LargeBinary(), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("matched_by", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("given_name", sa.Text(), nullable=True),
        sa.Column("middle_name", sa.Text(), nullable=True),
        sa.Column("family_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column("sis_id", sa.Text(), nullable=True),
        sa.Column("student_number", sa.Text(), nullable=True),
        sa.Column("state_id", sa.Text(), nullable=True),
        sa.Column("grades", sa.ARRAY(sa.Text()), nullable=True),
        sa.Column("school_external_ids", sa.ARRAY(sa.Text()), nullable=True),
        sa.Column("primary_school_external_id", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_sis_raw_users_run", "sis_raw_users", ["run_id", "external_id"], unique=False)
    op.create_table(
        "terms",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("school_year", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["terms.id"], name=op.f("fk_terms_parent_id_terms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms")),
    )
    op.create_index("ix_terms_tenant", "terms", ["tenant_id", "id"], unique=False)
    op.create_table(
        "classes",
        sa.Column("school_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("class_code", sa.Text(), nullable=True),
        sa.Column("course_code", sa.Text(), nullable=True),
        sa.Column("course_title", sa.Text(), nullable=True),
        sa.Column("term_ids", sa.ARRAY(sa.UUID()), server_default=sa.text("'{}'::uuid[]"), nullable=False),
        sa.Column("subjects", sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column("grades", sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column("periods", sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_classes_school_id_schools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classes")),
    )
    op.create_index("ix_classes_tenant", "classes", ["tenant_id", "id"], unique=False)
    op.create_table(
        "sis_entity_links",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("row_hash", sa.LargeBinary(), nullable=True),
        sa.Column("first_seen_run_id", sa.Uuid(), nullable=True),
        sa.Column("last_changed_run_id", sa.Uuid(), nullable=True),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "entity_type IN ('school', 'term', 'class', 'user', 'enrollment')",
            name=op.f("ck_sis_entity_links_entity_type"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["sis_providers.id"], name=op.f("fk_sis_entity_links_provider_id_sis_providers")
        ),
        sa.PrimaryKeyConstraint("provider_id", "entity_type", "external_id", name=op.f("pk_sis_entity_links")),
    )
    op.create_index("ix_sis_entity_links_entity", "sis_entity_links", ["entity_id"], unique=False)
    op.create_table(
        "sis_sync_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PENDING", "IN_PROGRESS", "SUCCESS", "PARTIAL", "FAILURE", "CANCELLED", name="sis_sync_status"),
            server_default=sa.text("'PENDING'"),
            nullable=False,
        ),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("is_manual", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=16), server_default=sa.text("'full'"), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("schedule_slot", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("phase", sa.String(length=32), nullable=True),
        sa.Column(
            "options", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "stats", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "timings", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "source", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_by", sa.String(length=200), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode IN ('full', 'incremental')", name=op.f("ck_sis_sync_runs_mode")),
        sa.CheckConstraint("trigger IN ('manual', 'schedule')", name=op.f("ck_sis_sync_runs_trigger")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["sis_providers.id"], name=op.f("fk_sis_sync_runs_provider_id_sis_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_sync_runs")),
    )
    op.create_index(
        "ix_sis_sync_runs_lease",
        "sis_sync_runs",
        ["lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'IN_PROGRESS'"),
    )
    op.create_index(
        "ix_sis_sync_runs_pending",
        "sis_sync_runs",
        ["requested_at"],
        unique=False,
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_index(
        "ix_sis_sync_runs_provider_requested", "sis_sync_runs", ["provider_id", "requested_at"], unique=False
    )
    op.create_index(
        "uq_sis_sync_runs_one_active_per_provider",
        "sis_sync_runs",
        ["provider_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('PENDING', 'IN_PROGRESS')"),
    )
    op.create_index(
        "uq_sis_sync_runs_schedule_slot",
        "sis_sync_runs",
        ["provider_id", "schedule_slot"],
        unique=True,
        postgresql_where=sa.text("schedule_slot IS NOT NULL"),
    )
    op.create_table(
        "users",
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=True),
        sa.Column("middle_name", sa.Text(), nullable=True),
        sa.Column("family_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column("sis_id", sa.Text(), nullable=True),
        sa.Column("student_number", sa.Text(), nullable=True),
        sa.Column("state_id", sa.Text(), nullable=True),
        sa.Column("grades", sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column("school_ids", sa.ARRAY(sa.UUID()), server_default=sa.text("'{}'::uuid[]"), nullable=False),
        sa.Column("primary_school_id", sa.Uuid(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["primary_school_id"], ["schools.id"], name=op.f("fk_users_primary_school_id_schools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index("ix_users_tenant", "users", ["tenant_id", "id"], unique=False)
    op.create_index("ix_users_tenant_email", "users", ["tenant_id", sa.literal_column("lower(email)")], unique=False)
    op.create_index("ix_users_tenant_student_number", "users", ["tenant_id", "student_number"], unique=False)
    op.create_table(
        "enrollments",
        sa.Column("class_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("begin_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
    )
    op.create_index("ix_enrollments_class", "enrollments", ["class_id"], unique=False)
    op.create_index("ix_enrollments_tenant", "enrollments", ["tenant_id", "id"], unique=False)
    op.create_index("ix_enrollments_user", "enrollments", ["user_id"], unique=False)
    op.create_table(
        "sis_sync_errors",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=True),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sis_sync_runs.id"], name=op.f("fk_sis_sync_errors_run_id_sis_sync_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_sync_errors")),
    )
    op.create_index("ix_sis_sync_errors_run", "sis_sync_errors", ["run_id", "id"], unique=False)
    op.create_table(
        "sis_sync_run_steps",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("records", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'skipped')", name=op.f("ck_sis_sync_run_steps_status")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sis_sync_runs.id"],
            name=op.f("fk_sis_sync_run_steps_run_id_sis_sync_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "step", name=op.f("pk_sis_sync_run_steps")),
    )


def downgrade() -> None:
    op.drop_table("sis_sync_run_steps")
    op.drop_index("ix_sis_sync_errors_run", table_name="sis_sync_errors")
    op.drop_table("sis_sync_errors")
    op.drop_index("ix_enrollments_user", table_name="enrollments")
    op.drop_index("ix_enrollments_tenant", table_name="enrollments")
    op.drop_index("ix_enrollments_class", table_name="enrollments")
    op.drop_table("enrollments")
    op.drop_index("ix_users_tenant_student_number", table_name="users")
    op.drop_index("ix_users_tenant_email", table_name="users")
    op.drop_index("ix_users_tenant", table_name="users")
    op.drop_table("users")
    op.drop_index(
        "uq_sis_sync_runs_schedule_slot",
        table_name="sis_sync_runs",
        postgresql_where=sa.text("schedule_slot IS NOT NULL"),
    )
    op.drop_index(
        "uq_sis_sync_runs_one_active_per_provider",
        table_name="sis_sync_runs",
        postgresql_where=sa.text("status IN ('PENDING', 'IN_PROGRESS')"),
    )
    op.drop_index("ix_sis_sync_runs_provider_requested", table_name="sis_sync_runs")
    op.drop_index(
        "ix_sis_sync_runs_pending", table_name="sis_sync_runs", postgresql_where=sa.text("status = 'PENDING'")
    )
    op.drop_index(
        "ix_sis_sync_runs_lease", table_name="sis_sync_runs", postgresql_where=sa.text("status = 'IN_PROGRESS'")
    )
    op.drop_table("sis_sync_runs")
    op.drop_index("ix_sis_entity_links_entity", table_name="sis_entity_links")
    op.drop_table("sis_entity_links")
    op.drop_index("ix_classes_tenant", table_name="classes")
    op.drop_table("classes")
    op.drop_index("ix_terms_tenant", table_name="terms")
    op.drop_table("terms")
    op.drop_index("ix_sis_raw_users_run", table_name="sis_raw_users")
    op.drop_table("sis_raw_users")
    op.drop_index("ix_sis_raw_terms_run", table_name="sis_raw_terms")
    op.drop_table("sis_raw_terms")
    op.drop_index("ix_sis_raw_schools_run", table_name="sis_raw_schools")
    op.drop_table("sis_raw_schools")
    op.drop_index("ix_sis_raw_enrollments_run", table_name="sis_raw_enrollments")
    op.drop_table("sis_raw_enrollments")
    op.drop_index("ix_sis_raw_classes_run", table_name="sis_raw_classes")
    op.drop_table("sis_raw_classes")
    op.drop_index("ix_sis_providers_tenant", table_name="sis_providers")
    op.drop_index(
        "ix_sis_providers_due",
        table_name="sis_providers",
        postgresql_where=sa.text("enabled AND deleted_at IS NULL AND next_run_at IS NOT NULL"),
    )
    op.drop_table("sis_providers")
    op.drop_index("ix_schools_tenant", table_name="schools")
    op.drop_table("schools")
    op.drop_index("ix_audit_log_tenant_created", table_name="audit_log")
    op.drop_table("audit_log")
    sa.Enum(name="sis_sync_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="sis_provider_type").drop(op.get_bind(), checkfirst=True)
