"""steps of a cancelled run end 'cancelled'

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_sis_sync_run_steps_status"


def _allow(*statuses: str) -> None:
    op.drop_constraint(op.f(NAME), "sis_sync_run_steps", type_="check")
    listed = ", ".join(f"'{s}'" for s in statuses)
    op.create_check_constraint(op.f(NAME), "sis_sync_run_steps", f"status IN ({listed})")


def upgrade() -> None:
    _allow("pending", "running", "done", "failed", "skipped", "cancelled")


def downgrade() -> None:
    op.execute("UPDATE sis_sync_run_steps SET status = 'failed' WHERE status = 'cancelled'")
    _allow("pending", "running", "done", "failed", "skipped")
