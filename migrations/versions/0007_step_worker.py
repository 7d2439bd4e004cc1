"""steps record the worker (host and process) that ran them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sis_sync_run_steps", sa.Column("worker", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sis_sync_run_steps", "worker")
