"""HELD runs: the status, when a run was held and until when, and the logged plan tables

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTITIES = ("schools", "terms", "classes", "users", "enrollments")


def upgrade() -> None:
    # a new enum value cannot be used in the transaction that adds it: it commits on its own
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE sis_sync_status ADD VALUE IF NOT EXISTS 'HELD'")
    op.add_column("sis_sync_runs", sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sis_sync_runs", sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_sis_sync_runs_held", "sis_sync_runs", ["held_until"], postgresql_where=sa.text("status = 'HELD'")
    )
    for entity in ENTITIES:
        # the staging table's columns, logged (LIKE copies columns and defaults, not UNLOGGED)
        op.execute(f"CREATE TABLE sis_held_{entity} (LIKE sis_raw_{entity} INCLUDING DEFAULTS)")
        op.create_index(f"ix_sis_held_{entity}_run", f"sis_held_{entity}", ["run_id", "external_id"])


def downgrade() -> None:
    for entity in ENTITIES:
        op.drop_table(f"sis_held_{entity}")
    op.drop_index("ix_sis_sync_runs_held", table_name="sis_sync_runs")
    op.drop_column("sis_sync_runs", "held_until")
    op.drop_column("sis_sync_runs", "held_at")
    # Postgres cannot drop an enum value: HELD runs end CANCELLED and the type is rebuilt
    op.execute(
        "UPDATE sis_sync_runs SET status = 'CANCELLED', error_message = 'held when the schema was downgraded' "
        "WHERE status = 'HELD'"
    )
    op.execute("ALTER TYPE sis_sync_status RENAME TO sis_sync_status_old")
    op.execute(
        "CREATE TYPE sis_sync_status AS ENUM ('PENDING', 'IN_PROGRESS', 'SUCCESS', 'PARTIAL', 'FAILURE', 'CANCELLED')"
    )
    op.execute("DROP INDEX IF EXISTS uq_sis_sync_runs_one_active_per_provider")
    op.execute("DROP INDEX IF EXISTS ix_sis_sync_runs_lease")
    op.execute("DROP INDEX IF EXISTS ix_sis_sync_runs_pending")
    op.execute("ALTER TABLE sis_sync_runs ALTER COLUMN status DROP DEFAULT")
    op.execute("ALTER TABLE sis_sync_runs ALTER COLUMN status TYPE sis_sync_status USING status::text::sis_sync_status")
    op.execute("ALTER TABLE sis_sync_runs ALTER COLUMN status SET DEFAULT 'PENDING'")
    op.execute("DROP TYPE sis_sync_status_old")
    op.execute(
        "CREATE UNIQUE INDEX uq_sis_sync_runs_one_active_per_provider ON sis_sync_runs (provider_id) "
        "WHERE status IN ('PENDING', 'IN_PROGRESS')"
    )
    op.execute("CREATE INDEX ix_sis_sync_runs_lease ON sis_sync_runs (lease_expires_at) WHERE status = 'IN_PROGRESS'")
    op.execute("CREATE INDEX ix_sis_sync_runs_pending ON sis_sync_runs (requested_at) WHERE status = 'PENDING'")
