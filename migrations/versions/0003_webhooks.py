"""webhooks, their delivery log, and the staleness state of providers

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "sis_webhooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        # NULL: platform-wide, hears every tenant's events
        sa.Column("tenant_id", sa.String(length=128), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_webhooks")),
    )
    op.create_index("ix_sis_webhooks_tenant", "sis_webhooks", ["tenant_id"], unique=False)
    op.create_table(
        "sis_webhook_deliveries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["sis_webhooks.id"],
            name=op.f("fk_sis_webhook_deliveries_webhook_id_sis_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_webhook_deliveries")),
    )
    op.create_index("ix_sis_webhook_deliveries_webhook", "sis_webhook_deliveries", ["webhook_id", "id"], unique=False)
    op.create_index("ix_sis_webhook_deliveries_message", "sis_webhook_deliveries", ["message_id"], unique=False)
    op.add_column("sis_providers", sa.Column("stale_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("sis_providers", "stale_since")
    op.drop_table("sis_webhook_deliveries")
    op.drop_table("sis_webhooks")
