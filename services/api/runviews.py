"""Runs as the API shows them: summary rows, steps and progress."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from libs.etl import steps
from libs.etl.details import RunStats
from libs.etl.phase import Phase
from services.api.schemas import Progress, RunStep, RunSummary

RUN_COLUMNS = (
    "r.id, r.provider_id, r.tenant_id, r.status, r.trigger, r.is_manual, r.mode, r.requested_by, r.requested_at, "
    "r.schedule_slot, r.started_at, r.completed_at, r.phase, r.stats, r.error_message, r.cancel_requested_at, "
    "r.cancel_requested_by, r.options, r.timings, r.source, r.kind, "
    "ARRAY(SELECT u.id FROM sis_sync_runs u WHERE u.provider_id = r.provider_id AND u.kind = 'undo' "
    "AND u.options ->> 'undoOf' = r.id::text ORDER BY u.requested_at) AS undone_by, "
    "(SELECT count(*) FROM sis_sync_errors e WHERE e.run_id = r.id) AS error_count"
)


def run_summary(row: Any) -> RunSummary:
    duration = None
    if row.started_at is not None and row.completed_at is not None:
        duration = round((row.completed_at - row.started_at).total_seconds(), 3)
    return RunSummary(
        id=row.id,
        provider_id=row.provider_id,
        tenant_id=row.tenant_id,
        status=row.status,
        trigger=row.trigger,
        is_manual=row.is_manual,
        mode=row.mode,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        schedule_slot=row.schedule_slot,
        started_at=row.started_at,
        completed_at=row.completed_at,
        duration_seconds=duration,
        phase=row.phase,
        stats=RunStats.model_validate(row.stats or {}),
        error_message=row.error_message,
        error_count=row.error_count,
        cancel_requested_at=row.cancel_requested_at,
        cancel_requested_by=row.cancel_requested_by,
        options=row.options or {},
        kind=row.kind,
        undo_of=(row.options or {}).get("undoOf"),
        undone_by=list(row.undone_by or []),
    )


def steps_of(conn: Connection, run_id: uuid.UUID) -> list[RunStep]:
    return [
        RunStep(
            step=r["step"],
            status=r["status"],
            records=r["records"],
            detail=r["detail"] or {},
            started_at=r["started_at"],
            finished_at=r["finished_at"],
        )
        for r in steps.all_details(conn, run_id)
    ]


def progress_of(steps: list[RunStep]) -> Progress:
    return Progress(
        steps_total=len(steps),
        steps_done=sum(1 for s in steps if s.status in ("done", "skipped")),
        steps_failed=sum(1 for s in steps if s.status == "failed"),
        records=sum(s.records for s in steps if Phase.EXTRACT.owns(s.step)),
        steps=steps,
    )
