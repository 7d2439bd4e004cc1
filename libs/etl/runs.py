"""The run state machine: request, admission, lease, heartbeat, fencing, cancel, reaper, finish.

The only module that changes `sis_sync_runs.status`. The invariants it keeps:

* One PENDING-or-IN_PROGRESS run per provider: a partial unique index, so a second request
  gets the existing run instead of a second one.
* At most MAX_CONCURRENT_SYNCS runs IN_PROGRESS: admission counts and admits in one short
  transaction under a transaction-level advisory lock, so concurrent admitters cannot both
  see a free slot. Waiting runs stay PENDING in Postgres and are admitted, oldest first, when a
  slot frees (at the end of a run, or by the scheduler tick).
* A lease, not a lock, owns an admitted run: `lease_token` plus `lease_expires_at`, extended by
  every heartbeat. A run whose lease expired (its worker died) is reaped to FAILURE and frees
  its slot.
* Fenced writes: every data-path transaction opens with `fence_begin` (a FOR KEY SHARE row lock:
  it does not block heartbeats or cancel requests, but it stops the reaper, which skips locked
  rows, from reaping a run whose transaction is alive) and closes with `fence_commit` (the
  lease UPDATE itself, checked for token, status and cancel). A worker that lost its lease, or
  whose run was cancelled, rolls back instead of committing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from libs.enums import SyncMode, SyncStatus, SyncTrigger
from libs.etl import held
from libs.etl.details import RunOptions
from libs.etl.phase import DONE, Phase

# Registry of transaction-level advisory lock keys (pg_advisory_xact_lock(namespace, key)).
LOCK_NAMESPACE = 0x5155  # "SIS" sync service
ADMISSION_LOCK = 1
# pg_advisory_xact_lock(TENANT_USERS_LOCK, hashtext(tenant_id)): one user load per tenant at a time
TENANT_USERS_LOCK = 0x5156


class RunError(Exception):
    pass


class LeaseLost(RunError):
    """This worker no longer owns the run (lease expired and reaped, or run finished)."""


class RunCancelled(RunError):
    """Cancel was requested; stop at this batch boundary and apply nothing more."""


class ProviderNotFound(RunError):
    pass


class PhaseMoved(RunError):
    """Another delivery of the same phase message already completed it; this one must not commit."""


@dataclass(frozen=True)
class RunRequest:
    run_id: uuid.UUID
    created: bool
    status: SyncStatus
    # HELD runs this request ended CANCELLED (their run.cancelled goes out after commit)
    superseded: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class Admitted:
    run_id: uuid.UUID
    lease_token: uuid.UUID
    # where it starts: plan, or where an approved HELD run stopped
    phase: str = Phase.PLAN.value


def request_run(
    conn: Connection,
    provider_id: uuid.UUID | str,
    *,
    trigger: SyncTrigger,
    requested_by: str | None = None,
    mode: SyncMode = SyncMode.FULL,
    schedule_slot: str | None = None,
    options: RunOptions | None = None,
) -> RunRequest:
    """Insert a PENDING run, or return the provider's existing PENDING/IN_PROGRESS run.

    The caller commits, then sends `start_sync` for a created run.
    """
    provider = conn.execute(
        text("SELECT tenant_id FROM sis_providers WHERE id = :p AND deleted_at IS NULL"),
        {"p": provider_id},
    ).first()
    if provider is None:
        raise ProviderNotFound(str(provider_id))
    row = conn.execute(
        text(
            """
            INSERT INTO sis_sync_runs
                (id, provider_id, tenant_id, status, trigger, is_manual, mode, requested_by,
                 schedule_slot, options)
            VALUES (:id, :p, :tenant, 'PENDING', :trigger, :manual, :mode, :by, :slot,
                    CAST(:options AS jsonb))
            ON CONFLICT DO NOTHING
            RETURNING id
            """
        ),
        {
            "id": uuid.uuid4(),
            "p": provider_id,
            "tenant": provider.tenant_id,
            "trigger": trigger.value,
            "manual": trigger is SyncTrigger.MANUAL,
            "mode": mode.value,
            "by": requested_by,
            "slot": schedule_slot,
            "options": _json((options or RunOptions()).to_json()),
        },
    ).first()
    if row is not None:
        # the provider's HELD run, if any, planned from an older read: this run replaces it
        superseded = held.supersede(conn, provider_id, row.id)
        return RunRequest(run_id=row.id, created=True, status=SyncStatus.PENDING, superseded=superseded)
    existing = conn.execute(
        text("SELECT id, status FROM sis_sync_runs WHERE provider_id = :p AND status IN ('PENDING', 'IN_PROGRESS')"),
        {"p": provider_id},
    ).first()
    if existing is None:
        # the conflict was on the schedule slot: that slot already fired
        slot_run = conn.execute(
            text("SELECT id, status FROM sis_sync_runs WHERE provider_id = :p AND schedule_slot = :s"),
            {"p": provider_id, "s": schedule_slot},
        ).one()
        return RunRequest(run_id=slot_run.id, created=False, status=SyncStatus(slot_run.status))
    return RunRequest(run_id=existing.id, created=False, status=SyncStatus(existing.status))


def reap_expired(conn: Connection) -> list[uuid.UUID]:
    """End runs whose lease expired. Runs with a live fenced transaction are skipped, not waited on."""
    rows = conn.execute(
        text(
            """
            UPDATE sis_sync_runs r
               SET status = 'FAILURE',
                   completed_at = now(),
                   error_message = 'Abandoned: the worker running this sync stopped responding '
                                   || '(lease expired at ' || to_char(r.lease_expires_at AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD HH24:MI:SS') || ' UTC, phase ' || coalesce(r.phase, '?') || ')',
                   lease_token = NULL
             WHERE r.id IN (SELECT id FROM sis_sync_runs
                             WHERE status = 'IN_PROGRESS' AND lease_expires_at < now()
                             FOR UPDATE SKIP LOCKED)
            RETURNING r.id
            """
        )
    ).all()
    return [row.id for row in rows]


def admit_pending(
    conn: Connection,
    *,
    max_concurrent: int,
    per_tenant: int,
    lease_ms: int,
    ended: list[uuid.UUID] | None = None,
) -> list[Admitted]:
    """Admit PENDING runs into free slots, fairly between tenants. Caller commits, then sends
    `plan` for each.

    A tenant runs at most `per_tenant` syncs at once, so one district's slow or hanging source
    cannot hold every slot. Among the runs a tenant may start, each tenant's oldest comes first,
    tenants in the order of their longest wait; then each tenant's second oldest, and so on.
    PENDING runs of disabled or deleted providers end FAILURE here without taking a slot. The runs
    this ends (those and the reaped ones) are added to `ended`, for their events.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": LOCK_NAMESPACE, "key": ADMISSION_LOCK})
    reaped = reap_expired(conn)
    unrunnable = conn.execute(
        text(
            """
            UPDATE sis_sync_runs r
               SET status = 'FAILURE', completed_at = now(),
                   error_message = CASE WHEN p.deleted_at IS NOT NULL THEN 'Provider deleted'
                                        ELSE 'Provider disabled' END
              FROM sis_providers p
             WHERE r.provider_id = p.id AND r.status = 'PENDING'
               -- an undo reads no source: it runs for a paused (disabled) provider
               AND ((NOT p.enabled AND r.kind = 'sync') OR p.deleted_at IS NOT NULL)
            RETURNING r.id
            """
        )
    ).all()
    if ended is not None:
        ended += reaped + [row.id for row in unrunnable]
    running = conn.execute(text("SELECT count(*) FROM sis_sync_runs WHERE status = 'IN_PROGRESS'")).scalar_one()
    free = max_concurrent - int(running)
    if free <= 0:
        return []
    rows = conn.execute(
        text(
            """
            UPDATE sis_sync_runs r
               -- an approved HELD run keeps its start: the source was read then (the bookmark and
               -- last_full_sync_at follow it)
               SET status = 'IN_PROGRESS', started_at = coalesce(r.started_at, now()),
                   phase = coalesce(r.phase, :first),
                   lease_token = gen_random_uuid(), heartbeat_at = now(),
                   lease_expires_at = now() + make_interval(secs => :lease / 1000.0),
                   dispatched_at = now()
             WHERE r.status = 'PENDING' AND r.cancel_requested_at IS NULL AND r.id IN (
                   WITH running AS (
                       SELECT tenant_id, count(*) AS n FROM sis_sync_runs
                        WHERE status = 'IN_PROGRESS' GROUP BY tenant_id
                   ), waiting AS (
                       SELECT id, tenant_id, requested_at,
                              row_number() OVER (PARTITION BY tenant_id ORDER BY requested_at, id) AS turn
                         FROM sis_sync_runs
                        WHERE status = 'PENDING' AND cancel_requested_at IS NULL
                   )
                   SELECT w.id FROM waiting w LEFT JOIN running USING (tenant_id)
                    WHERE coalesce(running.n, 0) + w.turn <= :per_tenant
                    ORDER BY w.turn, w.requested_at, w.id
                    LIMIT :free)
            RETURNING r.id, r.lease_token, r.requested_at, r.phase
            """
        ),
        {"free": free, "per_tenant": per_tenant, "lease": lease_ms, "first": Phase.PLAN.value},
    ).all()
    rows = sorted(rows, key=lambda row: (row.requested_at, str(row.id)))
    return [Admitted(run_id=row.id, lease_token=row.lease_token, phase=row.phase) for row in rows]


def _owned(row: Any, run_id: uuid.UUID | str) -> Any:
    """The row of a run this worker still owns and nobody asked to cancel; raises otherwise."""
    if row is None:
        raise LeaseLost(str(run_id))
    if row.cancel_requested_at is not None:
        raise RunCancelled(str(run_id))
    return row


def heartbeat(conn: Connection, run_id: uuid.UUID | str, token: uuid.UUID | str, *, lease_ms: int) -> None:
    """Extend the lease; raise LeaseLost if it is gone, RunCancelled if cancel was requested.

    Runs in its own short transaction (autocommit or committed by the caller right away).
    """
    _extend(conn, run_id, token, lease_ms)


def fence_begin(conn: Connection, run_id: uuid.UUID | str, token: uuid.UUID | str) -> None:
    """Open a data-path transaction: the run must still be ours and not cancelled."""
    row = conn.execute(
        text(
            "SELECT cancel_requested_at FROM sis_sync_runs "
            "WHERE id = :r AND lease_token = :t AND status = 'IN_PROGRESS' FOR KEY SHARE"
        ),
        {"r": run_id, "t": token},
    ).first()
    _owned(row, run_id)


def fence_commit(conn: Connection, run_id: uuid.UUID | str, token: uuid.UUID | str, *, lease_ms: int) -> None:
    """The last statement before COMMIT of a data-path transaction; raises instead of committing."""
    _extend(conn, run_id, token, lease_ms)


def _extend(conn: Connection, run_id: uuid.UUID | str, token: uuid.UUID | str, lease_ms: int) -> None:
    row = conn.execute(
        text(
            """
            UPDATE sis_sync_runs
               SET heartbeat_at = now(),
                   lease_expires_at = now() + make_interval(secs => :lease / 1000.0)
             WHERE id = :r AND lease_token = :t AND status = 'IN_PROGRESS'
            RETURNING cancel_requested_at
            """
        ),
        {"r": run_id, "t": token, "lease": lease_ms},
    ).first()
    _owned(row, run_id)


def advance(
    conn: Connection,
    run_id: uuid.UUID | str,
    token: uuid.UUID | str,
    *,
    from_phase: str,
    to_phase: str,
    lease_ms: int,
) -> None:
    """`fence_commit` that also moves the phase on, as a compare-and-set.

    Dramatiq delivers at least once; two deliveries of one phase serialize on this row and the
    second finds the phase already moved (PhaseMoved) and rolls back instead of redoing it.
    """
    row = conn.execute(
        text(
            """
            UPDATE sis_sync_runs
               SET phase = :to, heartbeat_at = now(), dispatched_at = now(),
                   lease_expires_at = now() + make_interval(secs => :lease / 1000.0)
             WHERE id = :r AND lease_token = :t AND status = 'IN_PROGRESS' AND phase = :from
            RETURNING cancel_requested_at
            """
        ),
        {"r": run_id, "t": token, "lease": lease_ms, "from": from_phase, "to": to_phase},
    ).first()
    if row is None:
        state = conn.execute(text("SELECT status, lease_token FROM sis_sync_runs WHERE id = :r"), {"r": run_id}).first()
        if state is None or state.status != SyncStatus.IN_PROGRESS.value or str(state.lease_token) != str(token):
            raise LeaseLost(str(run_id))
        raise PhaseMoved(str(run_id))
    if row.cancel_requested_at is not None:
        raise RunCancelled(str(run_id))


def current_phase(conn: Connection, run_id: uuid.UUID | str, token: uuid.UUID | str) -> str:
    """The phase of a run this worker owns; LeaseLost otherwise."""
    row = conn.execute(
        text(
            "SELECT phase, cancel_requested_at FROM sis_sync_runs "
            "WHERE id = :r AND lease_token = :t AND status = 'IN_PROGRESS'"
        ),
        {"r": run_id, "t": token},
    ).first()
    return str(_owned(row, run_id).phase)


def stop_reason(conn: Connection, run_id: uuid.UUID | str) -> str | None:
    """Why work for this run should stop now (cancel requested, run no longer running), or None."""
    row = conn.execute(
        text("SELECT status, cancel_requested_at FROM sis_sync_runs WHERE id = :r"), {"r": run_id}
    ).first()
    if row is None or row.cancel_requested_at is not None:
        return "the sync was cancelled"
    return None if row.status == SyncStatus.IN_PROGRESS.value else f"the run ended {row.status}"


@dataclass(frozen=True)
class CancelResult:
    run_id: uuid.UUID
    status: SyncStatus
    # True when a worker must be told (the run was IN_PROGRESS)
    notify_workers: bool


def request_cancel(conn: Connection, run_id: uuid.UUID | str, *, requested_by: str | None) -> CancelResult | None:
    """Record a cancel request. A PENDING run is CANCELLED at once; an IN_PROGRESS one is flagged.

    Returns None when the run is already finished. The caller commits, then sends
    `cancel_sync` when `notify_workers` is set.
    """
    row = conn.execute(
        text(
            """
            UPDATE sis_sync_runs
               SET cancel_requested_at = coalesce(cancel_requested_at, now()),
                   cancel_requested_by = coalesce(cancel_requested_by, :by),
                   status = CASE WHEN status = 'PENDING' THEN 'CANCELLED'::sis_sync_status ELSE status END,
                   completed_at = CASE WHEN status = 'PENDING' THEN now() ELSE completed_at END,
                   error_message = CASE WHEN status = 'PENDING' THEN 'Cancelled before it started'
                                        ELSE error_message END
             WHERE id = :r AND status IN ('PENDING', 'IN_PROGRESS')
            RETURNING id, status
            """
        ),
        {"r": run_id, "by": requested_by},
    ).first()
    if row is None:
        return None
    status = SyncStatus(row.status)
    return CancelResult(run_id=row.id, status=status, notify_workers=status is SyncStatus.IN_PROGRESS)


def finish(
    conn: Connection,
    run_id: uuid.UUID | str,
    *,
    status: SyncStatus,
    error_message: str | None = None,
    token: uuid.UUID | str | None = None,
    phase: str | None = None,
) -> bool:
    """Move an IN_PROGRESS run to a final status and release its lease.

    With a token the caller must own the lease; without one (cancel, operator action) any
    IN_PROGRESS run is ended, and in-flight fenced transactions of it will roll back. With a
    phase, the run must still be there: a late failure report of a phase the run has left (a
    redelivered message gave up after another delivery moved the run on) changes nothing.
    Returns False if the run was no longer IN_PROGRESS (or no longer ours, or in that phase).
    """
    assert status not in (SyncStatus.PENDING, SyncStatus.IN_PROGRESS)
    clause = "AND lease_token = :t" if token is not None else ""
    clause += " AND phase = :phase" if phase is not None else ""
    row = conn.execute(
        text(
            f"""
            UPDATE sis_sync_runs
               SET status = :status, completed_at = now(), lease_token = NULL, phase = :done,
                   error_message = coalesce(:message, error_message)
             WHERE id = :r AND status = 'IN_PROGRESS' {clause}
            RETURNING provider_id
            """
        ),
        {"r": run_id, "t": token, "status": status.value, "message": error_message, "done": DONE, "phase": phase},
    ).first()
    if row is None:
        return False
    # a plan kept for review is of no use once the run has ended
    held.drop(conn, run_id)
    # no step of a finished run is left pending or running
    conn.execute(
        text(
            """
            UPDATE sis_sync_run_steps
               SET status = CASE WHEN :status = 'CANCELLED' THEN 'cancelled'
                                 WHEN status = 'running' THEN 'failed' ELSE 'skipped' END,
                   finished_at = now()
             WHERE run_id = :r AND status IN ('pending', 'running')
            """
        ),
        {"r": run_id, "status": status.value},
    )
    if status in (SyncStatus.SUCCESS, SyncStatus.PARTIAL):
        conn.execute(
            text("UPDATE sis_providers SET last_sync_at = now() WHERE id = :p"),
            {"p": row.provider_id},
        )
    return True


def lease_state(conn: Connection, run_id: uuid.UUID | str) -> dict[str, Any] | None:
    row = conn.execute(
        text(
            "SELECT status, phase, lease_token, lease_expires_at, cancel_requested_at FROM sis_sync_runs WHERE id = :r"
        ),
        {"r": run_id},
    ).first()
    return dict(row._mapping) if row is not None else None


def stale_in_progress(conn: Connection, *, quiet_seconds: float) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """IN_PROGRESS runs with a live lease but no heartbeat or dispatch for `quiet_seconds`.

    Their current phase message was probably lost between a commit and its send; the
    scheduler re-sends it (phases are idempotent, so a duplicate is harmless).
    """
    rows = conn.execute(
        text(
            """
            SELECT id, lease_token, phase FROM sis_sync_runs
             WHERE status = 'IN_PROGRESS' AND lease_expires_at > now()
               AND greatest(heartbeat_at, dispatched_at) < now() - make_interval(secs => :quiet)
            """
        ),
        {"quiet": quiet_seconds},
    ).all()
    return [(row.id, row.lease_token, row.phase) for row in rows]


def touch_dispatched(conn: Connection, run_id: uuid.UUID | str) -> None:
    conn.execute(text("UPDATE sis_sync_runs SET dispatched_at = now() WHERE id = :r"), {"r": run_id})


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def utcnow(conn: Connection) -> datetime:
    value: datetime = conn.execute(text("SELECT now()")).scalar_one()
    return value
