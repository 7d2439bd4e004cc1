"""Sync operations on a provider: trigger, cancel, status, history."""

from __future__ import annotations

from sqlalchemy import Connection, text

from libs import audit
from libs.enums import SyncMode, SyncTrigger
from libs.etl import runs, schedule
from libs.etl.details import RunOptions
from libs.etl.options import ProviderOptions
from libs.etl.phase import cancel_sync as cancel_message
from libs.etl.phase import start_sync as start_message
from libs.providers import store
from libs.webhooks import events as webhook_events
from services.api.endpoint import Call, operation
from services.api.problems import ApiError
from services.api.routes.providers import load_active, load_visible
from services.api.runviews import RUN_COLUMNS, progress_of, run_summary, steps_of
from services.api.schemas import (
    CancelAccepted,
    RunList,
    RunsQuery,
    SyncAccepted,
    SyncRequest,
    SyncStatusOut,
)

TAG = "sync"


@operation(
    "POST",
    "/api/v1/providers/{providerId}/sync",
    summary="Run a sync now",
    tag=TAG,
    response=SyncAccepted,
    status=202,
    body=SyncRequest,
    body_required=False,
    errors=(400, 401, 403, 404, 409, 413, 415, 422, 429),
    rate_limited=True,
)
def trigger_sync(call: Call) -> SyncAccepted:
    """Queues a run. While a run of this provider is pending or in progress, answers 409 with
    that run's id (`runId`) instead of starting a second one. A new run supersedes the provider's
    held run (it ends CANCELLED). `{"mode": "preview"}` plans and then holds for review."""
    body = call.body or SyncRequest()
    provider_id = call.path["providerId"]
    with call.services.engine.begin() as conn:
        row = load_active(call, conn, provider_id)
        call.services.limiter.hit(
            f"sync:{call.token}:{provider_id}", call.services.settings.api_sync_triggers_per_minute
        )
        if not row.enabled:
            raise ApiError(409, "Provider disabled: enable it before running a sync", code="provider-disabled")
        preview = body.mode == "preview"
        # a preview reads as a run without a mode would: incremental when the options allow it
        mode = (
            SyncMode(body.mode)
            if body.mode in ("full", "incremental")
            else schedule.choose_mode(
                ProviderOptions.from_stored(row.options), row.last_full_sync_at, schedule.utcnow()
            )
        )
        options = RunOptions(allow_mass_deactivation=bool(body.allow_mass_deactivation), preview=preview)
        request = runs.request_run(
            conn,
            provider_id,
            trigger=SyncTrigger.MANUAL,
            requested_by=call.principal.subject,
            mode=mode,
            options=options,
        )
        if request.created:
            audit.record(
                conn,
                action="sync.requested",
                actor=call.principal.subject,
                target_type="run",
                target_id=request.run_id,
                tenant_id=row.tenant_id,
                details={"providerId": str(provider_id), "mode": mode.value, **options.to_json()},
            )
        # a held run this request replaced: its run.cancelled goes out after this commit
        superseded = [m for run in request.superseded for m in webhook_events.run_ended(conn, run)]
    if not request.created:
        raise ApiError(
            409,
            f"a sync of this provider is already {request.status.value.lower().replace('_', ' ')}",
            code="sync-already-running",
            runId=str(request.run_id),
            runStatus=request.status.value,
        )
    call.services.send([start_message(request.run_id), *superseded])
    return SyncAccepted(run_id=request.run_id, status=request.status, mode=mode, preview=preview)


@operation(
    "POST",
    "/api/v1/providers/{providerId}/sync/cancel",
    summary="Cancel the active sync",
    tag=TAG,
    response=CancelAccepted,
    status=202,
    errors=(401, 403, 404, 409),
)
def cancel_sync(call: Call) -> CancelAccepted:
    """A pending run is cancelled at once; a running one stops within seconds, at its next source wait or batch, and
    ends CANCELLED with the stats of what it applied. A cancelled run is not retried."""
    with call.services.engine.begin() as conn:
        row = load_active(call, conn, call.path["providerId"])
        active = store.active_run(conn, row.id)
        result = runs.request_cancel(conn, active, requested_by=call.principal.subject) if active else None
        if result is None:
            raise ApiError(409, "no sync of this provider is pending or in progress", code="no-active-sync")
        audit.record(
            conn,
            action="sync.cancelled",
            actor=call.principal.subject,
            target_type="run",
            target_id=result.run_id,
            tenant_id=row.tenant_id,
            details={"providerId": str(row.id), "statusBefore": "IN_PROGRESS" if result.notify_workers else "PENDING"},
        )
        # a pending run ended here and now: its run.cancelled goes out after this commit
        ended = [] if result.notify_workers else webhook_events.run_ended(conn, result.run_id)
    if result.notify_workers:
        call.services.send([cancel_message(result.run_id)])
    call.services.send(ended)
    return CancelAccepted(run_id=result.run_id, status=result.status)


@operation(
    "GET",
    "/api/v1/providers/{providerId}/sync/status",
    summary="Is a sync running, how far is it, and how did the last one end",
    tag=TAG,
    response=SyncStatusOut,
    errors=(401, 403, 404),
)
def sync_status(call: Call) -> SyncStatusOut:
    with call.services.engine.connect() as conn:
        row = load_visible(call, conn, call.path["providerId"])
        active = conn.execute(
            text(
                "SELECT id, status, phase, started_at, cancel_requested_at, "
                "greatest(heartbeat_at, dispatched_at) AS progressed_at FROM sis_sync_runs "
                "WHERE provider_id = :p AND status IN ('PENDING', 'IN_PROGRESS')"
            ),
            {"p": row.id},
        ).first()
        last = conn.execute(
            text(
                "SELECT status, completed_at FROM sis_sync_runs WHERE provider_id = :p "
                "AND status NOT IN ('PENDING', 'IN_PROGRESS') ORDER BY completed_at DESC NULLS LAST, requested_at DESC "
                "LIMIT 1"
            ),
            {"p": row.id},
        ).first()
        # a PARTIAL run rejected records: only a SUCCESS is a successful sync
        succeeded = conn.execute(
            text("SELECT max(completed_at) FROM sis_sync_runs WHERE provider_id = :p AND status = 'SUCCESS'"),
            {"p": row.id},
        ).scalar()
        progress = progress_of(steps_of(conn, active.id)) if active is not None else None
        waiting = _waiting_for(call, conn, row.tenant_id) if active is not None and active.status == "PENDING" else None
    return SyncStatusOut(
        is_running=active is not None,
        last_sync=last.completed_at if last else None,
        last_status=last.status if last else None,
        last_successful_sync=succeeded,
        next_run_at=row.next_run_at,
        run_id=active.id if active else None,
        status=active.status if active else None,
        phase=active.phase if active else None,
        started_at=active.started_at if active else None,
        cancel_requested=bool(active and active.cancel_requested_at),
        progress=progress,
        waiting_for=waiting,
        last_progress_at=active.progressed_at if active is not None and active.status == "IN_PROGRESS" else None,
        resend_after_seconds=call.services.settings.resend_after_seconds if active is not None else None,
    )


def _waiting_for(call: Call, conn: Connection, tenant_id: str) -> str:
    """What admission waits for: a slot of the service, one of the tenant's, or its next tick."""
    settings = call.services.settings
    busy = conn.execute(
        text(
            "SELECT count(*) AS everyone, count(*) FILTER (WHERE tenant_id = :t) AS tenant "
            "FROM sis_sync_runs WHERE status = 'IN_PROGRESS'"
        ),
        {"t": tenant_id},
    ).one()
    if busy.everyone >= settings.max_concurrent_syncs:
        return f"a free slot ({busy.everyone} of {settings.max_concurrent_syncs} in use)"
    if busy.tenant >= settings.max_concurrent_syncs_per_tenant:
        cap = settings.max_concurrent_syncs_per_tenant
        return f"a free slot of this district ({busy.tenant} of {cap} in use by its other providers)"
    return f"the scheduler to start it (a slot is free; it looks every {settings.scheduler_tick_seconds:g} s)"


@operation(
    "GET",
    "/api/v1/providers/{providerId}/runs",
    summary="Sync history, newest first",
    tag=TAG,
    response=RunList,
    query=RunsQuery,
    errors=(401, 403, 404),
)
def list_runs(call: Call) -> RunList:
    query: RunsQuery = call.query
    with call.services.engine.connect() as conn:
        row = load_visible(call, conn, call.path["providerId"])
        total = conn.execute(
            text("SELECT count(*) FROM sis_sync_runs WHERE provider_id = :p"), {"p": row.id}
        ).scalar_one()
        rows = conn.execute(
            text(
                f"SELECT {RUN_COLUMNS} FROM sis_sync_runs r WHERE provider_id = :p "
                "ORDER BY requested_at DESC, id DESC LIMIT :limit OFFSET :offset"
            ),
            {"p": row.id, "limit": query.limit, "offset": query.offset},
        ).all()
    return RunList(runs=[run_summary(r) for r in rows], total=total, limit=query.limit, offset=query.offset)
