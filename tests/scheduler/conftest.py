"""Providers straight in the database, and a tick with a chosen clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine, text

from libs.etl.phase import Queue


@pytest.fixture
def stub_broker() -> StubBroker:
    broker = StubBroker()
    for queue in Queue:
        broker.declare_queue(queue.value)
    return broker


@pytest.fixture
def add_provider(db: Engine) -> Callable[..., uuid.UUID]:
    def add(
        cron: str,
        timezone: str,
        next_run_at: datetime | None,
        *,
        options: dict[str, Any] | None = None,
        last_full_sync_at: datetime | None = None,
        enabled: bool = True,
    ) -> uuid.UUID:
        provider_id = uuid.uuid4()
        with db.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sis_providers (id, tenant_id, provider_type, name, config_ciphertext, enabled, "
                    "sync_schedule, schedule_timezone, next_run_at, options, last_full_sync_at) VALUES "
                    "(:id, 'district-a', 'CLEVER', 'p', '\\x00', :enabled, :cron, :tz, :next, CAST(:o AS jsonb), :full)"
                ),
                {
                    "id": provider_id,
                    "enabled": enabled,
                    "cron": cron,
                    "tz": timezone,
                    "next": next_run_at,
                    "o": json.dumps(options or {}),
                    "full": last_full_sync_at,
                },
            )
        return provider_id

    return add


def finish_all(db: Engine) -> None:
    """Every run ends, so the next slot is not absorbed by a run still active."""
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE sis_sync_runs SET status = 'SUCCESS', completed_at = now(), lease_token = NULL "
                "WHERE status IN ('PENDING', 'IN_PROGRESS')"
            )
        )
