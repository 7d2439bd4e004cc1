"""Plan: ask the connector for the run's extract steps; the pipeline fans them out."""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from libs.connectors.base import ExtractStep
from libs.etl.details import ExtractDetail, PlanDetail
from libs.etl.phase import Job, RunFailed, StepDone

log = logging.getLogger(__name__)


def ask_connector(job: Job) -> list[ExtractStep]:
    planned = job.connector().plan()
    if not planned:
        raise RunFailed("The connector planned no extract steps")
    names = [step.name for step in planned]
    if len(set(names)) != len(names):
        raise RuntimeError(f"connector planned duplicate step names: {names}")
    return planned


def body(job: Job, conn: Connection) -> StepDone:
    planned: list[ExtractStep] = job.prepared
    log.info("run %s planned %d extract steps", job.run_id, len(planned))
    # a step row counts records, and planning reads none: the detail lists the steps
    return StepDone(
        detail=PlanDetail(steps=[step.name for step in planned]),
        fan_out=[
            (step.name, ExtractDetail(step=step.to_json(), ordinal=ordinal + 1)) for ordinal, step in enumerate(planned)
        ],
    )
