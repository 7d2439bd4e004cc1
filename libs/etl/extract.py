"""Extract: stream one step's records from the connector into staging, in one transaction.

The step's rows and its "done" mark commit together, or not at all: a redelivered message
either finds the step done (and does nothing) or starts it again from an empty slate. The
last step to finish moves the run on (`pipeline.run_phase`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection

from libs.connectors.base import Extraction, ExtractStep, FeedMode
from libs.connectors.errors import ConnectorError
from libs.connectors.records import Record
from libs.etl import runs, steps, unchanged
from libs.etl.context import EtlContext
from libs.etl.details import ExtractDetail, FeedOutcome
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


@dataclass(frozen=True)
class Opened:
    extraction: Extraction
    ordinal: int
    # the provider's last run applied this very package: the step reads none of it
    applied: unchanged.Reference | None


def open_extraction(job: Job) -> Opened:
    """Open the step's extraction before the step's transaction: opening may download a package
    and check it, and no snapshot stays pinned while that happens."""
    with job.ctx.engine.connect() as conn:
        planned = steps.detail(conn, job.run_id, Phase.EXTRACT.step(job.part), ExtractDetail)
    assert planned.step is not None
    assert planned.ordinal is not None
    extraction = job.connector().extract(ExtractStep.from_json(planned.step))
    extraction.source[unchanged.ENGINE_KEY] = unchanged.engine_version()
    with job.ctx.engine.connect() as conn:
        applied = unchanged.applied_before(conn, job.provider, job.part or "", extraction.source)
    return Opened(extraction, planned.ordinal, applied)


def body(job: Job, conn: Connection) -> StepDone:
    opened: Opened = job.prepared
    if opened.applied is not None:
        return _unchanged(opened.extraction, opened.applied)
    extraction, ordinal = opened.extraction, opened.ordinal
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


def _unchanged(extraction: Extraction, applied: unchanged.Reference) -> StepDone:
    """The step's package is the one the provider's last run applied: it is not parsed or staged."""
    extraction.source["unchangedSince"] = str(applied.run_id)
    message = f"the same package as run {applied.run_id}: not read again"
    entities = extraction.step.entity_types
    detail = ExtractDetail(
        outcomes={
            entity: FeedOutcome(mode=FeedMode.UNCHANGED.value, complete=True, message=message) for entity in entities
        },
        counts={entity: applied.received.get(entity, 0) for entity in entities},
        source=extraction.source,
        seconds=0.0,
    )
    return StepDone(records=0, detail=detail)


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
