"""One run: its details, steps and per-record errors (JSON page or a full CSV download)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, text
from starlette.responses import StreamingResponse

from services.api.endpoint import Call, operation
from services.api.problems import not_found
from services.api.runviews import RUN_COLUMNS, progress_of, run_summary, steps_of
from services.api.schemas import ErrorGroup, ErrorGroupList, ErrorsQuery, RunDetail, SyncErrorList, SyncErrorOut
from services.api.security import check_visible

TAG = "runs"
CSV_BATCH = 5_000
_ERROR_COLUMNS = ("id", "entity_type", "external_id", "source", "line", "field", "code", "message", "created_at")
_CSV_HEADER = ("id", "entityType", "externalId", "source", "line", "field", "code", "message", "createdAt")


def _load_run(call: Call, conn: Connection, run_id: uuid.UUID) -> Any:
    row = conn.execute(
        text(
            f"SELECT {RUN_COLUMNS}, p.deleted_at AS provider_deleted_at FROM sis_sync_runs r "
            "JOIN sis_providers p ON p.id = r.provider_id WHERE r.id = :r"
        ),
        {"r": run_id},
    ).first()
    if row is None:
        raise not_found("run")
    check_visible(call.principal, row.tenant_id, deleted=row.provider_deleted_at is not None, what="run")
    return row


@operation(
    "GET",
    "/api/v1/runs/{runId}",
    summary="A run: stats, timings, steps, progress, error count, and what it read",
    tag=TAG,
    response=RunDetail,
    errors=(401, 403, 404),
)
def get_run(call: Call) -> RunDetail:
    with call.services.engine.connect() as conn:
        row = _load_run(call, conn, call.path["runId"])
        steps = steps_of(conn, row.id)
    summary = run_summary(row)
    return RunDetail(
        **summary.model_dump(),
        timings=row.timings or {},
        source=row.source or {},
        steps=steps,
        progress=progress_of(steps),
    )


@operation(
    "GET",
    "/api/v1/runs/{runId}/errors",
    summary="Per-record errors of a run (JSON page, or ?format=csv for all of them)",
    tag=TAG,
    response=SyncErrorList,
    query=ErrorsQuery,
    errors=(401, 403, 404),
    extra_responses={200: {"text/csv": {"schema": {"type": "string"}}}},
)
def run_errors(call: Call) -> SyncErrorList | StreamingResponse:
    query: ErrorsQuery = call.query
    with call.services.engine.connect() as conn:
        row = _load_run(call, conn, call.path["runId"])
        if query.format == "csv":
            return StreamingResponse(
                _csv_rows(call.services.engine, row.id),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="sync-errors-{row.id}.csv"'},
            )
        where, params = _filters(query)
        params |= {"r": row.id, "limit": query.limit, "offset": query.offset}
        rows = conn.execute(
            text(
                f"SELECT {', '.join(_ERROR_COLUMNS)} FROM sis_sync_errors WHERE run_id = :r{where} "
                "ORDER BY id LIMIT :limit OFFSET :offset"
            ),
            params,
        ).all()
        total = (
            conn.execute(text(f"SELECT count(*) FROM sis_sync_errors WHERE run_id = :r{where}"), params).scalar_one()
            if where
            else row.error_count
        )
    return SyncErrorList(
        errors=[SyncErrorOut.model_validate(dict(r._mapping)) for r in rows],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


def _filters(query: ErrorsQuery) -> tuple[str, dict[str, Any]]:
    """The SQL conditions of the code, entity type and search filters, with their parameters."""
    where, params = "", {}
    if query.code:
        where += " AND code = :code"
        params["code"] = query.code
    if query.entity_type:
        where += " AND entity_type = :entity_type"
        params["entity_type"] = query.entity_type
    if query.q:
        # a literal search: LIKE's wildcards in the text match themselves
        pattern = "%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where += " AND (external_id ILIKE :q OR field ILIKE :q OR message ILIKE :q)"
        params["q"] = pattern
    return where, params


@operation(
    "GET",
    "/api/v1/runs/{runId}/errors/summary",
    summary="A run's per-record errors counted by code and entity type",
    tag=TAG,
    response=ErrorGroupList,
    errors=(401, 403, 404),
)
def run_error_groups(call: Call) -> ErrorGroupList:
    with call.services.engine.connect() as conn:
        row = _load_run(call, conn, call.path["runId"])
        rows = conn.execute(
            text(
                "SELECT code, entity_type, count(*) AS n FROM sis_sync_errors WHERE run_id = :r "
                "GROUP BY code, entity_type ORDER BY count(*) DESC, code, entity_type"
            ),
            {"r": row.id},
        ).all()
    groups = [ErrorGroup(code=r.code, entity_type=r.entity_type, count=r.n) for r in rows]
    return ErrorGroupList(groups=groups, total=sum(g.count for g in groups))


def _csv_rows(engine: Engine, run_id: uuid.UUID) -> Iterator[str]:
    """Streams every error in id order, a batch per query (keyset, so memory stays flat)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_CSV_HEADER)
    yield _drain(buffer)
    after = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {', '.join(_ERROR_COLUMNS)} FROM sis_sync_errors WHERE run_id = :r AND id > :after "
                    "ORDER BY id LIMIT :n"
                ),
                {"r": run_id, "after": after, "n": CSV_BATCH},
            ).all()
        if not rows:
            return
        for r in rows:
            writer.writerow([_cell(v) for v in r])
        after = rows[-1].id
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    value = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return value


def _cell(value: Any) -> Any:
    # a cell starting with = + - @ is a formula to a spreadsheet; SIS data is not trusted
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value
