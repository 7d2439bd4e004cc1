"""Finalize: stats, timings, status, bookmarks, audit; then admit the next waiting run."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from libs.connectors.errors import ConnectorError
from libs.db.models.staging import STAGING_TABLES
from libs.enums import LOAD_ORDER, EntityType, SyncMode, SyncStatus
from libs.etl import control, feeds, runs, steps
from libs.etl.context import EtlContext
from libs.etl.providers import RunProvider, connector_for, load_for_run
from libs.queue import messages
from libs.queue.messages import Message

log = logging.getLogger(__name__)

STAT_KEYS = (
    "created",
    "updated",
    "unchanged",
    "deactivated",
    "reactivated",
    "matchedByEmail",
    "matchedByStudentNumber",
    "errors",
)


def finalize(ctx: EtlContext, run_id: str, token: str) -> list[Message]:
    return control.guarded(ctx, run_id, token, lambda: _finalize(ctx, run_id, token))


def _finalize(ctx: EtlContext, run_id: str, token: str) -> list[Message]:
    with ctx.engine.begin() as conn:
        if runs.current_phase(conn, run_id, token) != "finalize":
            return []
        provider = load_for_run(ctx, conn, run_id)
        run_feeds = feeds.collect(conn, run_id)
        details = {row["step"]: row for row in steps.all_details(conn, run_id)}
        errors = _error_counts(conn, run_id)
        stats = summarize(details, errors)
        held = list((details.get("deactivate", {}).get("detail") or {}).get("heldBack") or [])
        incomplete = [f for f in run_feeds.values() if f.supplied and not f.complete]
        status, message = _verdict(stats, held)
        sources = {
            name.removeprefix(steps.EXTRACT_PREFIX): (row["detail"] or {}).get("source") or {}
            for name, row in details.items()
            if name.startswith(steps.EXTRACT_PREFIX)
        }
        stats["requests"] = _sum_requests(sources.values())
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
                "r": run_id,
                "stats": json.dumps(stats),
                "timings": json.dumps(_timings(conn, run_id, details)),
                "source": json.dumps({"steps": sources}, default=str),
            },
        )
        steps.complete(conn, run_id, "finalize", detail={"status": status.value})
        if not runs.finish(conn, run_id, status=status, error_message=message, token=token):
            raise runs.LeaseLost(run_id)
        _remember(ctx, conn, provider, sources, complete=not incomplete)
        conn.execute(
            text(
                "INSERT INTO audit_log (tenant_id, actor, action, target_type, target_id, details) "
                "VALUES (:t, 'sis-sync', 'sync.completed', 'sis_sync_run', :r, CAST(:d AS jsonb))"
            ),
            {"t": provider.tenant_id, "r": run_id, "d": json.dumps({"status": status.value})},
        )
        admitted = runs.admit_pending(conn, max_concurrent=ctx.settings.max_concurrent_syncs, lease_ms=ctx.lease_ms)
    log.info("run %s finished %s", run_id, status.value)
    _purge_older_staging(ctx, provider)
    return [messages.plan(a.run_id, a.lease_token) for a in admitted]


def summarize(details: dict[str, dict[str, Any]], errors: dict[str, int]) -> dict[str, Any]:
    """Per entity type (plural keys, as the API shows them): what this run applied."""
    stats: dict[str, Any] = {}
    stage = ((details.get("stage") or {}).get("detail") or {}).get("entities") or {}
    deactivated = ((details.get("deactivate") or {}).get("detail") or {}).get("entities") or {}
    for entity in LOAD_ORDER:
        load = (((details.get(steps.load_step(entity)) or {}).get("detail") or {}).get("entities") or {}).get(
            entity.value
        ) or {}
        planned = stage.get(entity.value) or {}
        stats[entity.plural] = {
            "received": int(planned.get("received", 0)),
            "created": int(load.get("created", 0)),
            "updated": int(load.get("updated", 0)),
            "unchanged": int(planned.get("unchanged", 0)),
            "deactivated": int((deactivated.get(entity.value) or {}).get("deactivated", 0)),
            "reactivated": int(load.get("reactivated", 0)),
            "matchedByEmail": int(load.get("matched_by_email", 0)),
            "matchedByStudentNumber": int(load.get("matched_by_student_number", 0)),
            "errors": int(errors.get(entity.value, 0)),
        }
    # every store and link row the run wrote: each load step counts its merges, the deactivate
    # step its links and the entities they left without an active link
    stats["rowsWritten"] = sum(
        int(row.get("records") or 0) for name, row in details.items() if name.startswith("load:")
    ) + int(((details.get("deactivate") or {}).get("detail") or {}).get("rowsWritten") or 0)
    stats["packageErrors"] = int(errors.get("", 0))
    return stats


def _verdict(stats: dict[str, Any], held: list[dict[str, Any]]) -> tuple[SyncStatus, str | None]:
    rejected = sum(int(stats[e.plural]["errors"]) for e in EntityType) + int(stats.get("packageErrors", 0))
    parts = [item["reason"] for item in held]
    if rejected:
        parts.append(f"{rejected:,} record(s) rejected; see the run's errors")
    if parts:
        return SyncStatus.PARTIAL, "; ".join(parts)
    return SyncStatus.SUCCESS, None


def _error_counts(conn: Connection, run_id: str) -> dict[str, int]:
    rows = conn.execute(
        text(
            "SELECT coalesce(entity_type, '') AS entity, count(*) AS n FROM sis_sync_errors "
            "WHERE run_id = :r GROUP BY 1"
        ),
        {"r": run_id},
    ).all()
    return {row.entity: int(row.n) for row in rows}


def _sum_requests(sources: Any) -> dict[str, float]:
    total: dict[str, float] = {}
    for source in sources:
        for key, value in (source.get("requests") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return total


def _timings(conn: Connection, run_id: str, details: dict[str, dict[str, Any]]) -> dict[str, float]:
    def span(rows: list[dict[str, Any]]) -> float:
        starts = [r["started_at"] for r in rows if r.get("started_at")]
        ends = [r["finished_at"] for r in rows if r.get("finished_at")]
        if not starts or not ends:
            return 0.0
        seconds: float = (max(ends) - min(starts)).total_seconds()
        return round(seconds, 3)

    phases = {
        "plan": [details["plan"]] if "plan" in details else [],
        "extract": [r for n, r in details.items() if n.startswith(steps.EXTRACT_PREFIX)],
        "stage": [details["stage"]] if "stage" in details else [],
        "load": [r for n, r in details.items() if n.startswith("load:")],
        "deactivate": [details["deactivate"]] if "deactivate" in details else [],
    }
    timings = {name: span(rows) for name, rows in phases.items()}
    started: datetime | None = conn.execute(
        text("SELECT started_at FROM sis_sync_runs WHERE id = :r"), {"r": run_id}
    ).scalar()
    now: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    timings["total"] = round((now - started).total_seconds(), 3) if started else 0.0
    return timings


def _remember(
    ctx: EtlContext, conn: Connection, provider: RunProvider, sources: dict[str, Any], *, complete: bool
) -> None:
    """Keep the connector's bookmark and the last full sync time, only after a complete read."""
    if not complete:
        return
    try:
        connector = connector_for(ctx, provider)
        try:
            cursor = connector.next_cursor(list(sources.values()))
        finally:
            connector.close()
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


def _purge_older_staging(ctx: EtlContext, provider: RunProvider) -> None:
    """Staging is for the latest run of each provider (debugging); older runs' rows go."""
    with ctx.engine.begin() as conn:
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
