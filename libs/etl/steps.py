"""Units of work of a run (`sis_sync_run_steps`): what is planned, running, done, and its counts.

A step is named after its phase (`Phase.step(part)`: "stage", "extract:<connector step>",
"load:<entity>"). Each step's `detail` is one of the models of `details.py`; the run's stats
are the sum over finished steps, so a cancelled run reports exactly what it applied.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from libs.etl.details import Detail

D = TypeVar("D", bound=Detail)


def create(conn: Connection, run_id: uuid.UUID | str, steps: Iterable[tuple[str, Detail | None]]) -> None:
    rows = [{"r": run_id, "s": name, "d": _json(detail)} for name, detail in steps]
    if rows:
        conn.execute(
            text(
                "INSERT INTO sis_sync_run_steps (run_id, step, detail) VALUES (:r, :s, CAST(:d AS jsonb)) "
                "ON CONFLICT DO NOTHING"
            ),
            rows,
        )


def worker_identity() -> str:
    """ "<host>/<pid>" of this process: which machine (pod, container) and which worker process
    ran a step, so an operator (and the multi-host test) sees how a run spread over the pools.
    Asked each time: a worker's processes are forked after import."""
    return f"{socket.gethostname()}/{os.getpid()}"


def mark_running(conn: Connection, run_id: uuid.UUID | str, step: str) -> None:
    conn.execute(
        text(
            """
            INSERT INTO sis_sync_run_steps (run_id, step, status, started_at, worker)
            VALUES (:r, :s, 'running', now(), :w)
            ON CONFLICT (run_id, step) DO UPDATE
               SET status = 'running', started_at = coalesce(sis_sync_run_steps.started_at, now()),
                   worker = EXCLUDED.worker
             WHERE sis_sync_run_steps.status IN ('pending', 'running')
            """
        ),
        {"r": run_id, "s": step, "w": worker_identity()},
    )


def complete(
    conn: Connection, run_id: uuid.UUID | str, step: str, *, records: int = 0, detail: Detail | None = None
) -> bool:
    """Mark a step done inside the step's own transaction. False if it was already done (a duplicate)."""
    row = conn.execute(
        text(
            """
            INSERT INTO sis_sync_run_steps (run_id, step, status, records, detail, started_at, finished_at, worker)
            VALUES (:r, :s, 'done', :n, CAST(:d AS jsonb), now(), clock_timestamp(), :w)
            ON CONFLICT (run_id, step) DO UPDATE
               SET status = 'done', records = EXCLUDED.records,
                   detail = sis_sync_run_steps.detail || EXCLUDED.detail,
                   started_at = coalesce(sis_sync_run_steps.started_at, EXCLUDED.started_at),
                   finished_at = EXCLUDED.finished_at, worker = EXCLUDED.worker
             WHERE sis_sync_run_steps.status <> 'done'
            RETURNING step
            """
        ),
        {"r": run_id, "s": step, "n": records, "d": _json(detail), "w": worker_identity()},
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


def detail(conn: Connection, run_id: uuid.UUID | str, step: str, model: type[D]) -> D:
    """A step's detail as its model (defaults when the step has none yet)."""
    value = conn.execute(
        text("SELECT detail FROM sis_sync_run_steps WHERE run_id = :r AND step = :s"), {"r": run_id, "s": step}
    ).scalar()
    return model.model_validate(value or {})


def parts(conn: Connection, run_id: uuid.UUID | str, phase: str, *, pending: bool = False) -> list[dict[str, Any]]:
    """The steps of a phase in parts (`<phase>:<part>`), by name; only the unfinished ones if asked."""
    rows = conn.execute(
        text(
            "SELECT step, status, records, detail FROM sis_sync_run_steps "
            "WHERE run_id = :r AND starts_with(step, :prefix)"
            + (" AND status <> 'done'" if pending else "")
            + " ORDER BY step"
        ),
        {"r": run_id, "prefix": phase + ":"},
    ).all()
    return [dict(row._mapping) for row in rows]


def all_details(conn: Connection, run_id: uuid.UUID | str) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            "SELECT step, status, records, detail, started_at, finished_at FROM sis_sync_run_steps "
            "WHERE run_id = :r ORDER BY started_at NULLS LAST, step"
        ),
        {"r": run_id},
    ).all()
    return [dict(row._mapping) for row in rows]


def _json(detail: Detail | None) -> str:
    return json.dumps(detail.to_json() if detail is not None else {}, separators=(",", ":"))
