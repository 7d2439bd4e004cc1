"""Undo a run: what it would restore now (the confirmation), and the undo run itself."""

from __future__ import annotations

from libs import audit
from libs.enums import SyncStatus
from libs.etl import undo
from libs.etl.phase import start_sync as start_message
from libs.webhooks import events as webhook_events
from services.api.endpoint import Call, operation
from services.api.problems import ApiError
from services.api.routes.review import _run
from services.api.schemas import UndoAccepted, UndoBody, UndoConflict, UndoCounts, UndoPreview

TAG = "runs"


def _refused(refused: undo.UndoRefused) -> ApiError:
    status = 404 if refused.code == "not-found" else 409
    return ApiError(status, refused.message, code=refused.code, **refused.extra)


@operation(
    "GET",
    "/api/v1/runs/{runId}/undo",
    summary="What undoing a run would restore now, and the rows a later run changed (nothing is written)",
    tag=TAG,
    response=UndoPreview,
    errors=(401, 403, 404, 409),
)
def preview_undo(call: Call) -> UndoPreview:
    """Counts per entity type (plural): rows restored to their values before the run, of which
    reactivated, rows the run created that would be deactivated, and conflicts (rows a later run
    changed, kept unless forced). 409 when the run cannot be undone: not finished, nothing
    applied, or its change ledger pruned (LEDGER_RETENTION_DAYS)."""
    with call.services.engine.begin() as conn:
        run_id, _, _ = _run(call, conn, call.path["runId"])
        try:
            found = undo.preview(conn, run_id)
        except undo.UndoRefused as refused:
            raise _refused(refused) from None
    return UndoPreview(
        run_id=run_id,
        entities={
            entity.plural: UndoCounts.model_validate(counts.model_dump(exclude={"rows_written"}))
            for entity, counts in found.entities.items()
        },
        conflicts=[UndoConflict.model_validate(c) for c in found.conflicts],
    )


@operation(
    "POST",
    "/api/v1/runs/{runId}/undo",
    summary="Undo a run: a run of kind undo takes back what it applied",
    tag=TAG,
    response=UndoAccepted,
    status=202,
    body=UndoBody,
    body_required=False,
    errors=(400, 401, 403, 404, 409, 415, 422),
)
def undo_run(call: Call) -> UndoAccepted:
    """Updated fields get their values from before the run, rows it deactivated are reactivated,
    rows and links it created are deactivated (never deleted), links it moved move back. A row
    a later run changed is kept and reported as an `undo_conflict` error naming that run, unless
    `force`. The undo is a run of the provider (history, stats, cancel) and can itself be undone.
    Pause (disable) the provider first: its next sync applies again what the source still says.
    409 while a run of the provider is pending or in progress, or when the run cannot be undone."""
    body = call.body or UndoBody()
    with call.services.engine.begin() as conn:
        run_id, provider_id, tenant_id = _run(call, conn, call.path["runId"])
        try:
            request = undo.request(conn, run_id, by=call.principal.subject, force=body.force)
        except undo.UndoRefused as refused:
            raise _refused(refused) from None
        audit.record(
            conn,
            action="sync.undo_requested",
            actor=call.principal.subject,
            target_type="run",
            target_id=request.run_id,
            tenant_id=tenant_id,
            details={"providerId": str(provider_id), "undoOf": str(run_id), "force": body.force},
        )
        superseded = [m for run in request.superseded for m in webhook_events.run_ended(conn, run)]
    call.services.send([start_message(request.run_id), *superseded])
    return UndoAccepted(run_id=request.run_id, status=SyncStatus.PENDING, undo_of=run_id)
