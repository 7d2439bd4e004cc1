"""the change ledger: what each run changed, so it can be undone; runs gain a kind

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sis_sync_runs", sa.Column("kind", sa.String(length=8), server_default=sa.text("'sync'"), nullable=False)
    )
    op.create_check_constraint(op.f("ck_sis_sync_runs_kind"), "sis_sync_runs", "kind IN ('sync', 'undo')")
    op.add_column("sis_sync_runs", sa.Column("ledger_pruned_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sis_change_ledger",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("target", sa.String(length=8), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.CheckConstraint("target IN ('entity', 'link')", name=op.f("ck_sis_change_ledger_target")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sis_sync_runs.id"], name=op.f("fk_sis_change_ledger_run_id_sis_sync_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_change_ledger")),
    )
    op.create_index("ix_sis_change_ledger_run", "sis_change_ledger", ["run_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_sis_change_ledger_run", table_name="sis_change_ledger")
    op.drop_table("sis_change_ledger")
    op.drop_column("sis_sync_runs", "ledger_pruned_at")
    op.drop_constraint(op.f("ck_sis_sync_runs_kind"), "sis_sync_runs", type_="check")
    op.drop_column("sis_sync_runs", "kind")
