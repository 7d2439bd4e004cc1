"""Firing due schedules against real Postgres, with the clock chosen by the test."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine, text

from libs.etl import runs
from libs.settings import Settings
from services.scheduler.tick import tick
from tests.scheduler.conftest import finish_all


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _runs(db: Engine, provider_id: uuid.UUID) -> list[tuple[str, str, str]]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT schedule_slot, trigger, mode FROM sis_sync_runs WHERE provider_id = :p ORDER BY requested_at"),
            {"p": provider_id},
        ).all()
    return [(r.schedule_slot, r.trigger, r.mode) for r in rows]


def _next_run_at(db: Engine, provider_id: uuid.UUID) -> datetime:
    with db.connect() as conn:
        value: datetime = conn.execute(
            text("SELECT next_run_at FROM sis_providers WHERE id = :p"), {"p": provider_id}
        ).scalar_one()
    return value


def test_fall_back_day_fires_a_0130_schedule_once(
    db: Engine, settings: Settings, stub_broker: StubBroker, add_provider: Callable[..., uuid.UUID]
) -> None:
    provider = add_provider("30 1 * * *", "America/New_York", utc(2026, 11, 1, 5, 30))
    # every 5 minutes from 00:00 EDT to 03:00 EST: both 01:30s pass (05:30Z and 06:30Z)
    clock = utc(2026, 11, 1, 4, 0)
    fired = []
    while clock <= utc(2026, 11, 1, 8, 0):
        fired += tick(settings, now=clock, broker=stub_broker).fired
        finish_all(db)
        clock += timedelta(minutes=5)
    # fired once, not fired-and-absorbed by the unique slot index
    assert [(f.slot, f.created) for f in fired] == [("2026-11-01T01:30", True)]
    assert _runs(db, provider) == [("2026-11-01T01:30", "schedule", "full")]
    assert _next_run_at(db, provider) == utc(2026, 11, 2, 6, 30)  # 01:30 EST tomorrow


def test_three_hours_of_downtime_give_one_catch_up_run(
    db: Engine,
    settings: Settings,
    stub_broker: StubBroker,
    add_provider: Callable[..., uuid.UUID],
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = add_provider("0 * * * *", "UTC", utc(2026, 5, 1, 10, 0))
    caplog.set_level(logging.INFO)
    report = tick(settings, now=utc(2026, 5, 1, 13, 1), broker=stub_broker)
    assert [(f.slot, f.missed, f.created) for f in report.fired] == [("2026-05-01T13:00", 3, True)]
    assert "3 missed slot(s)" in caplog.text
    finish_all(db)
    tick(settings, now=utc(2026, 5, 1, 13, 30), broker=stub_broker)
    assert len(_runs(db, provider)) == 1
    assert _next_run_at(db, provider) == utc(2026, 5, 1, 14, 0)


def test_created_runs_are_admitted_and_planned_after_commit(
    db: Engine, settings: Settings, stub_broker: StubBroker, add_provider: Callable[..., uuid.UUID]
) -> None:
    add_provider("0 * * * *", "UTC", utc(2026, 5, 1, 10, 0))
    report = tick(settings, now=utc(2026, 5, 1, 10, 0, 3), broker=stub_broker)
    assert report.admitted == 1
    queue = stub_broker.queues["sis.extract"].queue  # type: ignore[attr-defined]
    planned = [json.loads(m)["actor_name"] for m in queue]
    assert planned == ["sis.plan"]


def test_disabled_deleted_and_future_providers_are_not_fired(
    db: Engine, settings: Settings, stub_broker: StubBroker, add_provider: Callable[..., uuid.UUID]
) -> None:
    now = utc(2026, 5, 1, 12, 0)
    disabled = add_provider("0 * * * *", "UTC", now - timedelta(hours=1), enabled=False)
    deleted = add_provider("0 * * * *", "UTC", now - timedelta(hours=1))
    future = add_provider("0 * * * *", "UTC", now + timedelta(minutes=1))
    with db.begin() as conn:
        conn.execute(text("UPDATE sis_providers SET deleted_at = now() WHERE id = :p"), {"p": deleted})
    assert tick(settings, now=now, broker=stub_broker).fired == []
    assert _runs(db, disabled) == _runs(db, deleted) == _runs(db, future) == []


def test_a_cancelled_run_is_not_retried_and_the_next_slot_fires(
    db: Engine, settings: Settings, stub_broker: StubBroker, add_provider: Callable[..., uuid.UUID]
) -> None:
    provider = add_provider("0 * * * *", "UTC", utc(2026, 5, 1, 10, 0))
    report = tick(settings, now=utc(2026, 5, 1, 10, 0, 5), broker=stub_broker)
    with db.begin() as conn:
        runs.request_cancel(conn, report.fired[0].run_id, requested_by="admin")
        runs.finish(conn, report.fired[0].run_id, status=runs.SyncStatus.CANCELLED)
    for minute in (5, 20, 59):
        assert tick(settings, now=utc(2026, 5, 1, 10, minute), broker=stub_broker).fired == []
    tick(settings, now=utc(2026, 5, 1, 11, 0, 5), broker=stub_broker)
    assert [slot for slot, _, _ in _runs(db, provider)] == ["2026-05-01T10:00", "2026-05-01T11:00"]


def test_a_slot_that_meets_an_active_manual_run_joins_it(
    db: Engine, settings: Settings, stub_broker: StubBroker, add_provider: Callable[..., uuid.UUID]
) -> None:
    provider = add_provider("0 * * * *", "UTC", utc(2026, 5, 1, 10, 0))
    with db.begin() as conn:
        manual = runs.request_run(conn, provider, trigger=runs.SyncTrigger.MANUAL)
    report = tick(settings, now=utc(2026, 5, 1, 10, 0, 5), broker=stub_broker)
    assert [(f.run_id, f.created) for f in report.fired] == [(manual.run_id, False)]
    assert len(_runs(db, provider)) == 1
    assert _next_run_at(db, provider) == utc(2026, 5, 1, 11, 0)


def test_scheduled_runs_are_incremental_between_full_syncs(
    db: Engine, settings: Settings, stub_broker: StubBroker, add_provider: Callable[..., uuid.UUID]
) -> None:
    now = utc(2026, 5, 10, 2, 0, 5)
    options = {"incremental": True, "fullSyncEveryDays": 7}
    recent = add_provider(
        "0 2 * * *", "UTC", utc(2026, 5, 10, 2), options=options, last_full_sync_at=now - timedelta(days=2)
    )
    stale = add_provider(
        "0 2 * * *", "UTC", utc(2026, 5, 10, 2), options=options, last_full_sync_at=now - timedelta(days=9)
    )
    tick(settings, now=now, broker=stub_broker)
    assert _runs(db, recent)[0][2] == "incremental"
    assert _runs(db, stale)[0][2] == "full"


def test_a_hand_broken_schedule_is_switched_off_not_retried_every_tick(
    db: Engine, settings: Settings, stub_broker: StubBroker, add_provider: Callable[..., uuid.UUID]
) -> None:
    provider = add_provider("0 * * * *", "Not/AZone", utc(2026, 5, 1, 10, 0))
    assert tick(settings, now=utc(2026, 5, 1, 10, 1), broker=stub_broker).fired == []
    with db.connect() as conn:
        assert (
            conn.execute(text("SELECT next_run_at FROM sis_providers WHERE id = :p"), {"p": provider}).scalar() is None
        )
