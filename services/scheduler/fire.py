"""Fire due schedules: claim providers with SKIP LOCKED, request one run each, move next_run_at.

Several scheduler replicas may run this at once. `FOR UPDATE SKIP LOCKED` hands each due
provider to exactly one of them; the claim, the run request and the new `next_run_at` commit
together, so a provider is either fired and moved on, or left due for the next tick. The
unique (provider_id, schedule_slot) index on runs is the backstop: a slot fires at most once
even if two transactions ever disagreed.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, text

from libs.enums import SyncTrigger
from libs.etl import runs, schedule
from libs.etl.options import ProviderOptions

log = logging.getLogger(__name__)

CLAIM_BATCH = 50


@dataclass(frozen=True)
class Fired:
    provider_id: uuid.UUID
    slot: str
    run_id: uuid.UUID
    created: bool  # False: an active run (manual or earlier) absorbed this slot
    missed: int
    # the provider's HELD run this scheduled run replaced (it ended CANCELLED)
    superseded: list[uuid.UUID] = field(default_factory=list)


def fire_due(conn: Connection, now: datetime, *, batch: int = CLAIM_BATCH) -> list[Fired]:
    """Claim up to `batch` due providers and fire each once. The caller commits, then sends."""
    rows = conn.execute(
        text(
            """
            SELECT id, sync_schedule, schedule_timezone, next_run_at, options, last_full_sync_at
              FROM sis_providers
             WHERE enabled AND deleted_at IS NULL AND next_run_at IS NOT NULL AND next_run_at <= :now
             ORDER BY next_run_at
             LIMIT :batch
               FOR UPDATE SKIP LOCKED
            """
        ),
        {"now": now, "batch": batch},
    ).all()
    fired: list[Fired] = []
    moves: list[tuple[uuid.UUID, datetime | None]] = []
    for row in rows:
        try:
            if row.sync_schedule is None:
                raise schedule.ScheduleError("no schedule")
            tz = schedule.zone(row.schedule_timezone)
            plan = schedule.catch_up(row.sync_schedule, tz, row.next_run_at, now)
        except schedule.ScheduleError as exc:
            # validated on write, so only a hand-edited row gets here; stop firing it
            log.error("provider %s has an unusable schedule (%s); next_run_at cleared", row.id, exc)
            moves.append((row.id, None))
            continue
        mode = schedule.choose_mode(ProviderOptions.from_stored(row.options), row.last_full_sync_at, now)
        request = runs.request_run(
            conn, row.id, trigger=SyncTrigger.SCHEDULE, requested_by="scheduler", mode=mode, schedule_slot=plan.slot
        )
        moves.append((row.id, plan.next.at))
        fired.append(
            Fired(
                provider_id=row.id,
                slot=plan.slot,
                run_id=request.run_id,
                created=request.created,
                missed=plan.missed,
                superseded=request.superseded,
            )
        )
    if moves:
        conn.execute(
            text(
                """
                UPDATE sis_providers p SET next_run_at = m.next_run_at
                  FROM unnest(CAST(:ids AS uuid[]), CAST(:nexts AS timestamptz[])) AS m(id, next_run_at)
                 WHERE p.id = m.id
                """
            ),
            {"ids": [m[0] for m in moves], "nexts": [m[1] for m in moves]},
        )
    return fired


def log_fired(fired: list[Fired]) -> None:
    for item in fired:
        if item.created:
            log.info("fired provider %s slot %s run %s", item.provider_id, item.slot, item.run_id)
        else:
            log.info(
                "provider %s slot %s joined run %s already active or fired", item.provider_id, item.slot, item.run_id
            )
        if item.missed:
            log.warning(
                "provider %s: %d missed slot(s) before %s coalesced into one catch-up run",
                item.provider_id,
                item.missed,
                item.slot,
            )
