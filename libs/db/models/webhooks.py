"""Webhooks (per tenant, or platform-wide with no tenant) and the log of their delivery attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.models.base import Base, Timestamps, new_id


class SisWebhook(Timestamps, Base):
    __tablename__ = "sis_webhooks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # {"secret": "whsec_..."} sealed like provider configs, bound to "webhook:<id>"
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # first failed attempt since the last success; a day of it disables the webhook
    failing_since: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_sis_webhooks_tenant", "tenant_id"),)


class SisWebhookDelivery(Base):
    __tablename__ = "sis_webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sis_webhooks.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        Index("ix_sis_webhook_deliveries_webhook", "webhook_id", "id"),
        Index("ix_sis_webhook_deliveries_message", "message_id"),
    )


class SisWebhookOutbox(Base):
    """Every message of an event, written in the transaction that caused it, until it settles.

    The message is sent after that commit; a crash in between, or a message Redis lost, leaves an
    unsettled row the scheduler sends again (libs/webhooks/outbox.py). Settled: delivered, given
    up after the last retry, refused, or dropped with its webhook.
    """

    __tablename__ = "sis_webhook_outbox"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sis_webhooks.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # the last time a message went to the broker for it
    sent_at: Mapped[datetime] = mapped_column(server_default=func.now())
    settled_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_sis_webhook_outbox_unsettled", "sent_at", postgresql_where=text("settled_at IS NULL")),)
