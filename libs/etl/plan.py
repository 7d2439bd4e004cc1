"""Plan: ask the connector for the run's extract steps and fan them out."""

from __future__ import annotations

import logging
import uuid

from libs.connectors.errors import ConnectorError
from libs.etl import control, runs, steps
from libs.etl.context import EtlContext
from libs.etl.providers import connector_for, load_for_run
from libs.queue import messages
from libs.queue.messages import Message

log = logging.getLogger(__name__)


def plan(ctx: EtlContext, run_id: str, token: str) -> list[Message]:
    return control.guarded(ctx, run_id, token, lambda: _plan(ctx, run_id, token))


def _plan(ctx: EtlContext, run_id: str, token: str) -> list[Message]:
    with ctx.engine.begin() as conn:
        if runs.current_phase(conn, run_id, token) != "plan":
            return []
        steps.mark_running(conn, run_id, "plan")
        provider = load_for_run(ctx, conn, run_id)
    try:
        connector = connector_for(ctx, provider)
        try:
            planned = connector.plan()
        finally:
            connector.close()
    except ConnectorError as exc:
        return control.fail(ctx, run_id, exc.message, token=token)
    if not planned:
        return control.fail(ctx, run_id, "The connector planned no extract steps", token=token)
    names = [step.name for step in planned]
    if len(set(names)) != len(names):
        raise RuntimeError(f"connector planned duplicate step names: {names}")
    with ctx.engine.begin() as conn:
        steps.create(
            conn,
            run_id,
            [
                (steps.EXTRACT_PREFIX + step.name, {"step": step.to_json(), "ordinal": ordinal + 1})
                for ordinal, step in enumerate(planned)
            ]
            + [(name, {}) for name in steps.pipeline_steps()],
        )
        steps.complete(conn, run_id, "plan", records=len(planned), detail={"steps": names})
        runs.advance(conn, run_id, token, from_phase="plan", to_phase="extract", lease_ms=ctx.lease_ms)
    log.info("run %s planned %d extract steps", run_id, len(planned))
    return [messages.extract(uuid.UUID(run_id), token, step.name, cpu_bound=step.cpu_bound) for step in planned]
