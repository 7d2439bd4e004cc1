"""Extract: stream one step's records from the connector into staging, in one transaction.

The step's rows and its "done" mark commit together, or not at all: a redelivered message
either finds the step done (and does nothing) or starts it again from an empty slate. The
last step to finish moves the run on (`pipeline.run_phase`).
"""

from __future__ import annotations

import time

from sqlalchemy import Connection

from libs.connectors.base import Extraction, ExtractStep
from libs.connectors.errors import ConnectorError
from libs.connectors.records import Record
from libs.etl import runs, steps
from libs.etl.context import EtlContext
from libs.etl.details import ExtractDetail
from libs.etl.feeds import outcome_detail
from libs.etl.phase import Job, Phase, StepDone
from libs.etl.sql import data_path_settings
from libs.etl.staging import StagingWriter

HEARTBEAT_EVERY_SECONDS = 2.0


class _Heartbeat:
    """Extends the lease (and reads the cancel flag) at most every few seconds, between batches."""

    def __init__(self, ctx: EtlContext, run_id: str, token: str) -> None:
        self._ctx, self._run_id, self._token = ctx, run_id, token
        self._last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self._last < HEARTBEAT_EVERY_SECONDS:
            return
        with self._ctx.engine.begin() as conn:
            runs.heartbeat(conn, self._run_id, self._token, lease_ms=self._ctx.lease_ms)
        self._last = time.monotonic()


def open_extraction(job: Job) -> tuple[Extraction, int]:
    """Open the step's extraction before the step's transaction: opening may download a package
    and check it, and no snapshot stays pinned while that happens."""
    with job.ctx.engine.connect() as conn:
        planned = steps.detail(conn, job.run_id, Phase.EXTRACT.step(job.part), ExtractDetail)
    assert planned.step is not None
    assert planned.ordinal is not None
    return job.connector().extract(ExtractStep.from_json(planned.step)), planned.ordinal


def body(job: Job, conn: Connection) -> StepDone:
    extraction, ordinal = job.prepared
    started = time.monotonic()
    data_path_settings(conn)
    driver = conn.connection.driver_connection
    assert driver is not None
    writer = StagingWriter(
        driver,
        job.run_id,
        step_ordinal=ordinal,
        batch_rows=min(job.ctx.settings.staging_batch_rows, 20_000),
        on_batch=_Heartbeat(job.ctx, str(job.run_id), job.token),
    )
    failure = _drain(extraction, writer)
    if failure is not None and not failure.retriable:
        raise failure
    writer.flush()
    return StepDone(records=sum(writer.counts.values()), detail=_detail(extraction, writer, time.monotonic() - started))


def _drain(extraction: Extraction, writer: StagingWriter) -> ConnectorError | None:
    """Stage every item. A retriable connector error part way (the source kept failing past the
    retry budget) keeps what was read and marks the step's entities incomplete, so nothing is
    deactivated on the strength of a partial read; any other connector error is returned."""
    try:
        for item in extraction:
            if isinstance(item, Record):
                writer.add(item)
            else:
                writer.add_error(item)
    except ConnectorError as exc:
        if not exc.retriable:
            return exc
        for entity in extraction.step.entity_types:
            extraction.mark_incomplete(entity, f"extract stopped early: {exc.message}")
        return exc
    return None


def _detail(extraction: Extraction, writer: StagingWriter, seconds: float) -> ExtractDetail:
    return ExtractDetail(
        outcomes={entity: outcome_detail(o) for entity, o in extraction.outcomes.items()},
        counts=dict(writer.counts),
        errors={(entity.value if entity else "package"): n for entity, n in writer.error_counts.items()},
        errors_not_stored=writer.errors_dropped,
        unstaged=dict(writer.unstaged),
        source=extraction.source,
        seconds=round(seconds, 3),
    )
