"""HELD runs: a plan kept for review, then applied exactly, rejected, superseded or expired.

A run whose plan trips a guard (or that was asked to preview, or whose provider says
`requireApproval: always`) stops after stage: nothing is written to the store or the links. Its
plan is copied into the logged `sis_held_*` tables (the staging tables are UNLOGGED and a
Postgres restart empties them): the planned rows (action set) and one row per planned
deactivation (action `deactivate`), never the unchanged rows, so a held plan costs at most the
size of the run's staging rows.

Approving resumes the same run at load: the planned rows go back into staging when a restart
emptied it, load applies them as for any run, and deactivate applies exactly the kept
deactivations (no guard asked again: the admin saw them). It is refused while a store entity or
link of the plan changed after the plan was made. Rejecting, a newer run of the provider and
expiry end the run CANCELLED with the reason. Every decision drops the kept plan.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from libs.db.models.staging import HELD_TABLES, STAGING_TABLES
from libs.enums import LOAD_ORDER, EntityType, SyncStatus
from libs.etl.details import RunOptions
from libs.etl.phase import DONE, Phase

STORE_TABLES = {
    EntityType.SCHOOL: "schools",
    EntityType.TERM: "terms",
    EntityType.CLASS: "classes",
    EntityType.USER: "users",
    EntityType.ENROLLMENT: "enrollments",
}
# the position an approved run resumes at
RESUME_AT = Phase.LOAD.step(LOAD_ORDER[0].value)
# how many moved entities a refusal names
NAMED = 20


def _columns(entity: EntityType) -> list[str]:
    return [c.name for c in STAGING_TABLES[entity].columns]


def keep(conn: Connection, run_id: uuid.UUID, entity: EntityType) -> int:
    """Copy one entity type's planned rows into the logged plan table; returns how many.

    `raw` (the source's own record) stays behind: the plan is the canonical values."""
    columns = [c for c in _columns(entity) if c != "raw"]
    listed = ", ".join(columns)
    return conn.execute(
        text(
            f"INSERT INTO {HELD_TABLES[entity].name} ({listed}) SELECT {listed} FROM {STAGING_TABLES[entity].name} "
            "WHERE run_id = :r AND status IS NULL AND action IS NOT NULL"
        ),
        {"r": run_id},
    ).rowcount


def keep_deactivations(
    conn: Connection, run_id: uuid.UUID, entity: EntityType, condition: str, params: dict[str, Any]
) -> int:
    """Keep the links (alias `l`) a condition selects as the run's planned deactivations."""
    return conn.execute(
        text(
            f"""
            INSERT INTO {HELD_TABLES[entity].name} (run_id, seq, external_id, action, entity_id)
            SELECT :r, 0, l.external_id, 'deactivate', l.entity_id
              FROM sis_entity_links l
             WHERE l.provider_id = :p AND l.entity_type = :e AND l.active AND {condition}
            """
        ),
        {**params, "r": run_id, "e": entity.value},
    ).rowcount


def planned_deactivations(entity: EntityType) -> str:
    """SQL over links `l`: the link is one of the run's kept deactivations (an approved run)."""
    return (
        f"EXISTS (SELECT 1 FROM {HELD_TABLES[entity].name} h WHERE h.run_id = :r AND h.action = 'deactivate' "
        "AND h.external_id = l.external_id)"
    )


def drop(conn: Connection, run_id: uuid.UUID | str) -> None:
    """Forget a run's kept plan (decided, expired, or ended)."""
    for table in HELD_TABLES.values():
        conn.execute(text(f"DELETE FROM {table.name} WHERE run_id = :r"), {"r": run_id})


def hold(
    conn: Connection,
    run_id: uuid.UUID | str,
    token: uuid.UUID | str,
    *,
    resume_at: str,
    reasons: list[str],
    stats: dict[str, Any],
    ttl_hours: float,
) -> bool:
    """Stop an IN_PROGRESS run HELD: lease released (no slot taken), resume position kept."""
    row = conn.execute(
        text(
            """
            UPDATE sis_sync_runs
               SET status = 'HELD', phase = :resume, lease_token = NULL, lease_expires_at = NULL,
                   held_at = now(), held_until = now() + make_interval(secs => :ttl * 3600.0),
                   error_message = :message, stats = CAST(:stats AS jsonb)
             WHERE id = :r AND lease_token = :t AND status = 'IN_PROGRESS' AND cancel_requested_at IS NULL
            RETURNING id
            """
        ),
        {
            "r": run_id,
            "t": token,
            "resume": resume_at,
            "ttl": ttl_hours,
            "message": "Held for review: " + "; ".join(reasons),
            "stats": json.dumps(stats),
        },
    ).first()
    return row is not None


class DecisionRefused(Exception):
    """The run cannot be approved or rejected (`code`, `message` for the admin)."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        self.code = code
        self.message = message
        self.extra = extra
        super().__init__(message)


@dataclass(frozen=True)
class Moved:
    entity_type: EntityType
    external_id: str
    entity_id: uuid.UUID | None


@dataclass
class Decision:
    run_id: uuid.UUID
    status: SyncStatus
    # False when an earlier identical decision already did it (the answer repeats it)
    changed: bool = True
    provider_id: uuid.UUID | None = None
    tenant_id: str | None = None
    plan: dict[str, Any] = field(default_factory=dict)


def _locked(conn: Connection, run_id: uuid.UUID | str) -> Any:
    row = conn.execute(
        text(
            "SELECT id, provider_id, tenant_id, status, options, held_at, error_message, stats "
            "FROM sis_sync_runs WHERE id = :r FOR UPDATE"
        ),
        {"r": run_id},
    ).first()
    if row is None:
        raise DecisionRefused("not-found", "run not found")
    return row


def moved_since_plan(conn: Connection, run_id: uuid.UUID | str, provider_id: uuid.UUID, held_at: Any) -> list[Moved]:
    """Planned changes whose store entity, or this provider's link, changed after the plan was
    made (another provider's run, an operator's change): applying the plan would overwrite them."""
    out: list[Moved] = []
    for entity in LOAD_ORDER:
        held = HELD_TABLES[entity].name
        rows = conn.execute(
            text(
                f"""
                SELECT h.external_id, h.entity_id FROM {held} h
                 WHERE h.run_id = :r AND h.action <> 'create'
                   AND (EXISTS (SELECT 1 FROM {STORE_TABLES[entity]} e
                                 WHERE e.id = h.entity_id AND e.updated_at > :at)
                        OR EXISTS (SELECT 1 FROM sis_entity_links l
                                    WHERE l.provider_id = :p AND l.entity_type = :e
                                      AND l.external_id = h.external_id AND l.updated_at > :at))
                 ORDER BY h.external_id LIMIT :n
                """
            ),
            {"r": run_id, "p": provider_id, "e": entity.value, "at": held_at, "n": NAMED - len(out)},
        ).all()
        out.extend(Moved(entity, row.external_id, row.entity_id) for row in rows)
        if len(out) >= NAMED:
            break
    return out


def _restore_staging(conn: Connection, run_id: uuid.UUID | str) -> None:
    """Put the planned rows back into staging where a restart emptied it (load reads staging)."""
    for entity in LOAD_ORDER:
        raw = STAGING_TABLES[entity].name
        if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {raw} WHERE run_id = :r)"), {"r": run_id}).scalar_one():
            continue
        columns = ", ".join(c for c in _columns(entity) if c != "raw")
        conn.execute(
            text(
                f"INSERT INTO {raw} ({columns}) SELECT {columns} FROM {HELD_TABLES[entity].name} "
                "WHERE run_id = :r AND action <> 'deactivate'"
            ),
            {"r": run_id},
        )


def approve(conn: Connection, run_id: uuid.UUID | str, *, by: str) -> Decision:
    """Resume a HELD run (the same run) to apply its plan; it waits for a slot like any run.

    Idempotent: approving an approved run answers with it. Refused when the run is not held,
    or when the store moved under the plan (`DecisionRefused("plan-outdated")`)."""
    row = _locked(conn, run_id)
    options = RunOptions.model_validate(row.options or {})
    decision = Decision(row.id, SyncStatus(row.status), provider_id=row.provider_id, tenant_id=row.tenant_id)
    if row.status != SyncStatus.HELD.value:
        if options.approved_by:
            decision.changed = False
            return decision
        raise DecisionRefused("not-held", f"the run is {row.status}, not held for review", runStatus=row.status)
    provider = conn.execute(
        text("SELECT enabled, deleted_at FROM sis_providers WHERE id = :p"), {"p": row.provider_id}
    ).one()
    if provider.deleted_at is not None or not provider.enabled:
        raise DecisionRefused("provider-disabled", "the provider is disabled: enable it before approving its sync")
    moved = moved_since_plan(conn, row.id, row.provider_id, row.held_at)
    if moved:
        names = ", ".join(f"{m.entity_type.value} {m.external_id}" for m in moved)
        raise DecisionRefused(
            "plan-outdated",
            f"the store changed after this plan was made, for {names}; run a new sync to plan again",
            moved=[
                {"entityType": m.entity_type.value, "externalId": m.external_id, "entityId": str(m.entity_id)}
                for m in moved
            ],
        )
    active = conn.execute(
        text("SELECT id FROM sis_sync_runs WHERE provider_id = :p AND status IN ('PENDING', 'IN_PROGRESS')"),
        {"p": row.provider_id},
    ).first()
    if active is not None:
        raise DecisionRefused(
            "sync-already-running", "another sync of this provider is pending or in progress", runId=str(active.id)
        )
    _restore_staging(conn, row.id)
    approved = options.model_copy(update={"approved_by": by})
    conn.execute(
        text(
            """
            UPDATE sis_sync_runs
               SET status = 'PENDING', held_until = NULL, error_message = NULL, options = CAST(:o AS jsonb)
             WHERE id = :r
            """
        ),
        {"r": row.id, "o": json.dumps(approved.to_json())},
    )
    decision.status = SyncStatus.PENDING
    return decision


def reject(conn: Connection, run_id: uuid.UUID | str, *, by: str) -> Decision:
    """End a HELD run CANCELLED ("rejected by <sub>"); a rejected run answers again as it is."""
    row = _locked(conn, run_id)
    decision = Decision(row.id, SyncStatus(row.status), provider_id=row.provider_id, tenant_id=row.tenant_id)
    if row.status != SyncStatus.HELD.value:
        if row.status == SyncStatus.CANCELLED.value and (row.error_message or "").startswith("Rejected by "):
            decision.changed = False
            return decision
        raise DecisionRefused("not-held", f"the run is {row.status}, not held for review", runStatus=row.status)
    end_held(conn, "id = :r", {"r": row.id}, "'Rejected by ' || CAST(:by AS text)", by=by)
    decision.status = SyncStatus.CANCELLED
    return decision


def end_held(conn: Connection, where: str, params: dict[str, Any], message_sql: str, **more: Any) -> list[uuid.UUID]:
    """End the HELD runs a condition selects CANCELLED with a message; drop their plans."""
    rows = conn.execute(
        text(
            f"""
            UPDATE sis_sync_runs
               SET status = 'CANCELLED', completed_at = now(), phase = :done, held_until = NULL,
                   error_message = {message_sql}
             WHERE status = 'HELD' AND {where}
            RETURNING id
            """
        ),
        {**params, **more, "done": DONE},
    ).all()
    ended = [row.id for row in rows]
    if ended:
        conn.execute(
            text(
                "UPDATE sis_sync_run_steps SET status = 'cancelled', finished_at = now() "
                "WHERE run_id = ANY(:ids) AND status IN ('pending', 'running')"
            ),
            {"ids": ended},
        )
        for run in ended:
            drop(conn, run)
    return ended


def supersede(conn: Connection, provider_id: uuid.UUID | str, new_run: uuid.UUID) -> list[uuid.UUID]:
    """A new run of the provider replaces its held one: the held plan is out of date."""
    return end_held(
        conn, "provider_id = :p", {"p": provider_id}, "'Superseded by run ' || CAST(:new AS text)", new=str(new_run)
    )


def expire(conn: Connection) -> list[uuid.UUID]:
    """End the HELD runs whose plan waited longer than HELD_PLAN_TTL_HOURS (the scheduler tick)."""
    return end_held(
        conn,
        "held_until < now()",
        {},
        "'The held plan expired: no decision within ' || round(extract(epoch FROM now() - held_at) / 3600)::int "
        "|| ' h (HELD_PLAN_TTL_HOURS)'",
    )
