"""Finalize: stats, timings, status, bookmarks, audit; the pipeline then ends the run and admits the
next waiting one."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from libs import audit
from libs.connectors.errors import ConnectorError
from libs.db.models.staging import STAGING_TABLES
from libs.enums import LOAD_ORDER, RunKind, SyncMode, SyncStatus
from libs.etl import feeds, steps, undo
from libs.etl.details import (
    Applied,
    Deactivated,
    DeactivateDetail,
    Detail,
    EntityStats,
    ExtractDetail,
    FinalizeDetail,
    HeldBack,
    LoadDetail,
    Planned,
    RunStats,
    StageDetail,
    plan_counts,
)
from libs.etl.phase import Job, Phase, StepDone

log = logging.getLogger(__name__)

D = TypeVar("D", bound=Detail)


def body(job: Job, conn: Connection) -> StepDone:
    provider = job.provider
    if provider.kind is RunKind.UNDO:
        return undo.finish(job, conn)
    run_feeds = feeds.collect(conn, provider.run_id)
    rows = {row["step"]: row for row in steps.all_details(conn, provider.run_id)}
    errors = error_counts(conn, provider.run_id)
    stats = summarize(rows, errors)
    held = steps.detail(conn, provider.run_id, Phase.DEACTIVATE.step(), DeactivateDetail).held_back
    incomplete = [f for f in run_feeds.values() if f.supplied and not f.complete]
    status, message = _verdict(stats, held, sum(errors.values()))
    sources = {
        Phase.of(name)[1] or "": ExtractDetail.model_validate(row["detail"] or {}).source
        for name, row in rows.items()
        if Phase.EXTRACT.owns(name)
    }
    stats.requests = _sum_requests(sources.values())
    conn.execute(
        text(
            """
            UPDATE sis_sync_runs
               SET stats = CAST(:stats AS jsonb), timings = CAST(:timings AS jsonb),
                   source = CAST(:source AS jsonb)
             WHERE id = :r
            """
        ),
        {
            "r": provider.run_id,
            "stats": json.dumps(stats.to_json()),
            "timings": json.dumps(timings(conn, provider.run_id, rows)),
            "source": json.dumps({"steps": sources}, default=str),
        },
    )
    if not incomplete:
        _remember(job, conn, sources)
    audit.record(
        conn,
        action="sync.completed",
        actor="sis-sync",
        target_type="sis_sync_run",
        target_id=provider.run_id,
        tenant_id=provider.tenant_id,
        details={
            "status": status.value,
            **({"approvedBy": provider.run_options.approved_by} if provider.run_options.approved_by else {}),
        },
    )
    return StepDone(detail=FinalizeDetail(status=status.value), status=status, message=message)


def summarize(rows: dict[str, dict[str, Any]], errors: dict[str, int]) -> RunStats:
    """What this run applied, from its finished steps' details."""

    def detail(step: str, model: type[D]) -> D:
        return model.model_validate((rows.get(step) or {}).get("detail") or {})

    planned = detail(Phase.STAGE.step(), StageDetail).entities
    deactivated = detail(Phase.DEACTIVATE.step(), DeactivateDetail)
    stats = RunStats(package_errors=int(errors.get("", 0)), plan=plan_counts(planned))
    loads = {
        entity: detail(Phase.LOAD.step(entity.value), LoadDetail).entities.get(entity) or Applied()
        for entity in LOAD_ORDER
    }
    for entity, load in loads.items():
        plan = planned.get(entity) or Planned()
        # received and unchanged as stage saw them; what was applied as load did it (users are
        # matched again under the tenant's lock, so a planned create may end linked or rejected)
        setattr(
            stats,
            entity.plural,
            EntityStats(
                received=plan.received,
                created=load.created,
                updated=load.updated,
                unchanged=plan.unchanged,
                linked=load.linked,
                matched_by_email=load.matched_by_email,
                matched_by_student_number=load.matched_by_student_number,
                reactivated=load.reactivated,
                errors=plan.rejected + load.rejected,
                deactivated=(deactivated.entities.get(entity) or Deactivated()).deactivated,
            ),
        )
    # every store and link row the run wrote: each load step its merges, the deactivate step its
    # links and the entities they left without an active link
    stats.rows_written = sum(load.rows_written for load in loads.values()) + deactivated.rows_written
    return stats


def _verdict(stats: RunStats, held: list[HeldBack], errors: int) -> tuple[SyncStatus, str | None]:
    parts = [item.reason for item in held]
    # any error row makes the run partial, even one on a tombstone (not a received record)
    rejected = stats.rejected or errors
    if rejected:
        parts.append(f"{rejected:,} record(s) rejected; see the run's errors")
    if parts:
        return SyncStatus.PARTIAL, "; ".join(parts)
    return SyncStatus.SUCCESS, None


def error_counts(conn: Connection, run_id: uuid.UUID) -> dict[str, int]:
    rows = conn.execute(
        text(
            "SELECT coalesce(entity_type, '') AS entity, count(*) AS n FROM sis_sync_errors "
            "WHERE run_id = :r GROUP BY 1"
        ),
        {"r": run_id},
    ).all()
    return {row.entity: int(row.n) for row in rows}


def _sum_requests(sources: Any) -> dict[str, int | float]:
    total: dict[str, int | float] = {}
    for source in sources:
        for key, value in (source.get("requests") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return total


def timings(conn: Connection, run_id: uuid.UUID, details: dict[str, dict[str, Any]]) -> dict[str, float]:
    def span(rows: list[dict[str, Any]]) -> float:
        starts = [r["started_at"] for r in rows if r.get("started_at")]
        ends = [r["finished_at"] for r in rows if r.get("finished_at")]
        if not starts or not ends:
            return 0.0
        seconds: float = (max(ends) - min(starts)).total_seconds()
        return round(seconds, 3)

    # every phase before this one (finalize is still running)
    timings = {
        phase.value: span([r for n, r in details.items() if phase.owns(n)])
        for phase in Phase
        if phase is not Phase.FINALIZE
    }
    started: datetime | None = conn.execute(
        text("SELECT started_at FROM sis_sync_runs WHERE id = :r"), {"r": run_id}
    ).scalar()
    now: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    timings["total"] = round((now - started).total_seconds(), 3) if started else 0.0
    return timings


def _remember(job: Job, conn: Connection, sources: dict[str, Any]) -> None:
    """Keep the connector's bookmark and the last full sync time (only after a complete read)."""
    provider = job.provider
    try:
        cursor = job.connector().next_cursor(list(sources.values()))
    except ConnectorError:
        log.exception("run %s: could not compute the next sync cursor", provider.run_id)
        cursor = {}
    conn.execute(
        text(
            """
            UPDATE sis_providers
               SET sync_cursor = CASE WHEN CAST(:cursor AS jsonb) = '{}'::jsonb THEN sync_cursor
                                      ELSE CAST(:cursor AS jsonb) END,
                   last_full_sync_at = CASE WHEN :full THEN r.started_at ELSE last_full_sync_at END
              FROM sis_sync_runs r
             WHERE sis_providers.id = :p AND r.id = :r
            """
        ),
        {
            "cursor": json.dumps(cursor, default=str),
            "full": provider.mode is SyncMode.FULL,
            "p": provider.provider_id,
            "r": provider.run_id,
        },
    )


def purge_staging(job: Job) -> None:
    """Staging is for the latest run of each provider (debugging); older runs' rows go."""
    provider = job.provider
    with job.ctx.engine.begin() as conn:
        for table in STAGING_TABLES.values():
            conn.execute(
                text(
                    f"""
                    DELETE FROM {table.name} WHERE run_id IN (
                        SELECT id FROM sis_sync_runs
                         WHERE provider_id = :p AND id <> :r AND status NOT IN ('PENDING', 'IN_PROGRESS'))
                    """
                ),
                {"p": provider.provider_id, "r": provider.run_id},
            )
