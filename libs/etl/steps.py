"""Units of work of a run (`sis_sync_run_steps`): what is planned, running, done, and its counts.

Step names: "plan", "extract:<connector step>", "stage", "load:<entity>", "deactivate",
"finalize". Each step's `detail` holds its counters per entity type; the run's stats are the
sum over finished steps, so a cancelled run reports exactly what it applied.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text

from libs.enums import LOAD_ORDER, EntityType

EXTRACT_PREFIX = "extract:"


def load_step(entity: EntityType) -> str:
    return f"load:{entity.value}"


def pipeline_steps() -> list[str]:
    """The steps after extraction, in order."""
    return ["stage", *(load_step(e) for e in LOAD_ORDER), "deactivate", "finalize"]


def create(conn: Connection, run_id: uuid.UUID | str, steps: Iterable[tuple[str, dict[str, Any]]]) -> None:
    rows = [{"r": run_id, "s": name, "d": json.dumps(detail)} for name, detail in steps]
    if rows:
        conn.execute(
            text(
                "INSERT INTO sis_sync_run_steps (run_id, step, detail) VALUES (:r, :s, CAST(:d AS jsonb)) "
                "ON CONFLICT DO NOTHING"
            ),
            rows,
        )


def mark_running(conn: Connection, run_id: uuid.UUID | str, step: str) -> None:
    conn.execute(
        text(
            """
            INSERT INTO sis_sync_run_steps (run_id, step, status, started_at) VALUES (:r, :s, 'running', now())
            ON CONFLICT (run_id, step) DO UPDATE
               SET status = 'running', started_at = coalesce(sis_sync_run_steps.started_at, now())
             WHERE sis_sync_run_steps.status IN ('pending', 'running')
            """
        ),
        {"r": run_id, "s": step},
    )


def complete(
    conn: Connection, run_id: uuid.UUID | str, step: str, *, records: int = 0, detail: dict[str, Any] | None = None
) -> bool:
    """Mark a step done inside the step's own transaction. False if it was already done (a duplicate)."""
    row = conn.execute(
        text(
            """
            INSERT INTO sis_sync_run_steps (run_id, step, status, records, detail, started_at, finished_at)
            VALUES (:r, :s, 'done', :n, CAST(:d AS jsonb), now(), clock_timestamp())
            ON CONFLICT (run_id, step) DO UPDATE
               SET status = 'done', records = EXCLUDED.records,
                   detail = sis_sync_run_steps.detail || EXCLUDED.detail,
                   started_at = coalesce(sis_sync_run_steps.started_at, EXCLUDED.started_at),
                   finished_at = EXCLUDED.finished_at
             WHERE sis_sync_run_steps.status <> 'done'
            RETURNING step
            """
        ),
        {"r": run_id, "s": step, "n": records, "d": json.dumps(detail or {})},
    ).first()
    return row is not None


def fail(conn: Connection, run_id: uuid.UUID | str, step: str, message: str) -> None:
    conn.execute(
        text(
            """
            UPDATE sis_sync_run_steps
               SET status = 'failed', finished_at = now(),
                   detail = detail || jsonb_build_object('error', CAST(:m AS text))
             WHERE run_id = :r AND step = :s AND status <> 'done'
            """
        ),
        {"r": run_id, "s": step, "m": message},
    )


def status(conn: Connection, run_id: uuid.UUID | str, step: str) -> str | None:
    value = conn.execute(
        text("SELECT status FROM sis_sync_run_steps WHERE run_id = :r AND step = :s"), {"r": run_id, "s": step}
    ).scalar()
    return None if value is None else str(value)


def extract_steps(conn: Connection, run_id: uuid.UUID | str) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            "SELECT step, status, records, detail FROM sis_sync_run_steps "
            "WHERE run_id = :r AND step LIKE 'extract:%' ORDER BY step"
        ),
        {"r": run_id},
    ).all()
    return [dict(row._mapping) for row in rows]


def remaining_extracts(conn: Connection, run_id: uuid.UUID | str) -> int:
    value = conn.execute(
        text(
            "SELECT count(*) FROM sis_sync_run_steps WHERE run_id = :r AND step LIKE 'extract:%' AND status <> 'done'"
        ),
        {"r": run_id},
    ).scalar_one()
    return int(value)


def all_details(conn: Connection, run_id: uuid.UUID | str) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            "SELECT step, status, records, detail, started_at, finished_at FROM sis_sync_run_steps "
            "WHERE run_id = :r ORDER BY started_at NULLS LAST, step"
        ),
        {"r": run_id},
    ).all()
    return [dict(row._mapping) for row in rows]
