"""Extract: stream one step's records from the connector into staging, in one transaction.

The step's rows and its "done" mark commit together, or not at all: a redelivered message
either finds the step done (and does nothing) or starts it again from an empty slate. The
last step to finish moves the run to the stage phase (fan-in through the run row's lock).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from sqlalchemy import text

from libs.connectors.base import Extraction, ExtractStep
from libs.connectors.errors import ConnectorError
from libs.connectors.records import Record
from libs.etl import control, runs, steps
from libs.etl.context import EtlContext
from libs.etl.feeds import outcome_detail
from libs.etl.providers import connector_for, load_for_run
from libs.etl.sql import data_path_settings
from libs.etl.staging import StagingWriter
from libs.queue import messages
from libs.queue.messages import Message

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_SECONDS = 5.0


def extract(ctx: EtlContext, run_id: str, token: str, step_name: str) -> list[Message]:
    return control.guarded(ctx, run_id, token, lambda: _extract(ctx, run_id, token, step_name))


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


def _extract(ctx: EtlContext, run_id: str, token: str, step_name: str) -> list[Message]:
    step_key = steps.EXTRACT_PREFIX + step_name
    with ctx.engine.begin() as conn:
        if runs.current_phase(conn, run_id, token) != "extract" or steps.status(conn, run_id, step_key) == "done":
            return []
        detail = conn.execute(
            text("SELECT detail FROM sis_sync_run_steps WHERE run_id = :r AND step = :s"),
            {"r": run_id, "s": step_key},
        ).scalar_one()
        steps.mark_running(conn, run_id, step_key)
        provider = load_for_run(ctx, conn, run_id)
    step = ExtractStep.from_json(detail["step"])
    ordinal = int(detail["ordinal"])
    heartbeat = _Heartbeat(ctx, run_id, token)
    started = time.monotonic()
    try:
        connector = connector_for(ctx, provider)
    except ConnectorError as exc:
        return control.fail(ctx, run_id, exc.message, token=token)
    try:
        # Opening an extraction may download a package and check it; no transaction is held open
        # (and no snapshot pinned) while that happens.
        extraction = connector.extract(step)
        with ctx.engine.connect() as conn, conn.begin():
            data_path_settings(conn)
            runs.fence_begin(conn, run_id, token)
            driver = conn.connection.driver_connection
            assert driver is not None
            writer = StagingWriter(
                driver,
                uuid.UUID(run_id),
                step_ordinal=ordinal,
                batch_rows=min(ctx.settings.staging_batch_rows, 20_000),
                on_batch=heartbeat,
            )
            failure = _drain(extraction, writer)
            if failure is not None and not failure.retriable:
                raise failure
            writer.flush()
            result = _detail(extraction, writer, time.monotonic() - started)
            if not steps.complete(conn, run_id, step_key, records=sum(writer.counts.values()), detail=result):
                raise runs.PhaseMoved(run_id)
            runs.fence_commit(conn, run_id, token, lease_ms=ctx.lease_ms)
            if steps.remaining_extracts(conn, run_id) > 0:
                return []
            runs.advance(conn, run_id, token, from_phase="extract", to_phase="stage", lease_ms=ctx.lease_ms)
    except ConnectorError as exc:
        return control.fail(ctx, run_id, exc.message, token=token)
    finally:
        connector.close()
    return [messages.stage(uuid.UUID(run_id), token)]


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


def _detail(extraction: Extraction, writer: StagingWriter, seconds: float) -> dict[str, Any]:
    return {
        "outcomes": {entity.value: outcome_detail(o) for entity, o in extraction.outcomes.items()},
        "counts": {entity.value: n for entity, n in writer.counts.items()},
        "errors": {(entity.value if entity else "package"): n for entity, n in writer.error_counts.items()},
        "errorsNotStored": writer.errors_dropped,
        "source": extraction.source,
        "seconds": round(seconds, 3),
    }
