"""A HELD run's review: its planned changes (page or CSV), and the admin's approve or reject."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, text
from starlette.responses import StreamingResponse

from libs import audit
from libs.etl import changes, held
from libs.etl.phase import start_sync as start_message
from libs.webhooks import events as webhook_events
from services.api.endpoint import Call, operation
from services.api.problems import ApiError, invalid, not_found
from services.api.routes.runs import _cell, _drain
from services.api.schemas import ChangeList, ChangesQuery, Decided, PlannedChange
from services.api.security import check_visible

TAG = "runs"
_CSV_HEADER = ("entityType", "action", "externalId", "entityId", "name", "field", "from", "to")


def _run(call: Call, conn: Connection, run_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, str]:
    row = conn.execute(
        text(
            "SELECT r.id, r.provider_id, r.tenant_id, p.deleted_at FROM sis_sync_runs r "
            "JOIN sis_providers p ON p.id = r.provider_id WHERE r.id = :r"
        ),
        {"r": run_id},
    ).first()
    if row is None:
        raise not_found("run")
    check_visible(call.principal, row.tenant_id, deleted=row.deleted_at is not None, what="run")
    return row.id, row.provider_id, row.tenant_id


@operation(
    "GET",
    "/api/v1/runs/{runId}/changes",
    summary="The planned changes of a held run (page, or ?format=csv for all of them)",
    tag=TAG,
    response=ChangeList,
    query=ChangesQuery,
    errors=(400, 401, 403, 404, 409),
    extra_responses={200: {"text/csv": {"schema": {"type": "string"}}}},
)
def list_changes(call: Call) -> ChangeList | StreamingResponse:
    """Each change says its entity type, action, the source's id, the store entity, a name, and for
    updates the fields that change with their value now (`from`) and planned (`to`). Kept while
    the run is HELD (and while an approved run applies it); 409 once the run was decided."""
    query: ChangesQuery = call.query
    filters = changes.Filters(entity=query.entity, action=query.action, q=query.q)
    with call.services.engine.connect() as conn:
        run_id, provider_id, _ = _run(call, conn, call.path["runId"])
        if not changes.is_kept(conn, run_id):
            raise ApiError(
                409, "this run keeps no plan: only a held run does, until it is decided", code="no-plan-kept"
            )
        if query.format == "csv":
            return StreamingResponse(
                _csv(call.services.engine, run_id, provider_id, filters),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="planned-changes-{run_id}.csv"'},
            )
        try:
            rows, cursor = changes.page(conn, run_id, provider_id, filters, limit=query.limit, cursor=query.cursor)
        except changes.BadCursor as exc:
            raise invalid([{"field": "cursor", "detail": str(exc)}]) from None
        plan = changes.counts(conn, run_id)
    return ChangeList(changes=[PlannedChange.model_validate(c.to_json()) for c in rows], plan=plan, next_cursor=cursor)


def _csv(engine: Engine, run_id: uuid.UUID, provider_id: uuid.UUID, filters: changes.Filters) -> Iterator[str]:
    """A line per changed field (a create or deactivation without fields: one line)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_CSV_HEADER)
    yield _drain(buffer)
    with engine.connect() as conn:
        for change in changes.all_changes(conn, run_id, provider_id, filters):
            head = [change.entity_type.value, change.action, change.external_id, change.entity_id, change.name]
            fields = change.changes.items() or [("", {"from": None, "to": None})]
            for name, values in fields:
                writer.writerow([_cell(v) for v in (*head, name, _value(values["from"]), _value(values["to"]))])
            yield _drain(buffer)


def _value(value: object) -> object:
    return json.dumps(value) if isinstance(value, list | dict) else value


def _decide(call: Call, action: str) -> Decided:
    with call.services.engine.begin() as conn:
        run_id, _, tenant_id = _run(call, conn, call.path["runId"])
        try:
            if action == "approve":
                decision = held.approve(conn, run_id, by=call.principal.subject)
            else:
                decision = held.reject(conn, run_id, by=call.principal.subject)
        except held.DecisionRefused as refused:
            raise ApiError(409, refused.message, code=refused.code, **refused.extra) from None
        out = []
        if decision.changed:
            audit.record(
                conn,
                action=f"sync.{action}d",
                actor=call.principal.subject,
                target_type="run",
                target_id=run_id,
                tenant_id=tenant_id,
                details={"providerId": str(decision.provider_id)},
            )
            out = [start_message(run_id)] if action == "approve" else webhook_events.run_ended(conn, run_id)
    call.services.send(out)
    return Decided(run_id=run_id, status=decision.status, changed=decision.changed)


@operation(
    "POST",
    "/api/v1/runs/{runId}/approve",
    summary="Apply a held run's plan, exactly as reviewed (the same run resumes)",
    tag=TAG,
    response=Decided,
    status=202,
    errors=(401, 403, 404, 409),
)
def approve_run(call: Call) -> Decided:
    """The run waits for a slot, then loads, deactivates and finalizes its kept plan; nothing is
    read again. 409 when the run is not held, or when a store entity or link of the plan changed
    after the plan was made (`moved` names them: plan again with a new sync). Approving an
    approved run answers with it (`changed: false`)."""
    return _decide(call, "approve")


@operation(
    "POST",
    "/api/v1/runs/{runId}/reject",
    summary="Reject a held run's plan: the run ends CANCELLED, nothing is written",
    tag=TAG,
    response=Decided,
    errors=(401, 403, 404, 409),
)
def reject_run(call: Call) -> Decided:
    """Rejecting a rejected run answers with it (`changed: false`)."""
    return _decide(call, "reject")
