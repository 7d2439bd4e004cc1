"""The actors of a run. Thin on purpose: ids in, one libs call, messages out after commit.

Actor names are the stable names of libs/queue/messages.py; queues are explicit. A run's own
failures (a source refusing credentials, a broken package) are recorded on the run by the libs
call and are not retried. Anything else (a database restart, a bug) is retried a few times
with backoff; when retries run out, `phase_failed` ends the run FAILURE so its slot frees.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from libs.etl import control, deactivate, extract, finalize, load, plan, stage
from libs.queue import messages
from services.workers.context import worker_context

log = logging.getLogger(__name__)

PHASE_FAILED = "sis.phase_failed"
_RETRIES: dict[str, Any] = {
    "max_retries": 3,
    "min_backoff": 1_000,
    "max_backoff": 30_000,
    "on_retry_exhausted": PHASE_FAILED,
}
_MINUTE = 60_000


def _send(out: list[messages.Message]) -> None:
    messages.send(out)


@dramatiq.actor(actor_name=messages.START_SYNC, queue_name=messages.QUEUE_CONTROL, time_limit=_MINUTE, **_RETRIES)
def start_sync(run_id: str) -> None:
    _send(control.start(worker_context(), run_id))


@dramatiq.actor(actor_name=messages.CANCEL_SYNC, queue_name=messages.QUEUE_CONTROL, time_limit=_MINUTE, **_RETRIES)
def cancel_sync(run_id: str) -> None:
    _send(control.cancel(worker_context(), run_id))


@dramatiq.actor(actor_name=messages.PLAN, queue_name=messages.QUEUE_EXTRACT, time_limit=30 * _MINUTE, **_RETRIES)
def plan_run(run_id: str, token: str) -> None:
    _send(plan.plan(worker_context(), run_id, token))


@dramatiq.actor(actor_name=messages.EXTRACT, queue_name=messages.QUEUE_EXTRACT, time_limit=6 * 60 * _MINUTE, **_RETRIES)
def extract_step(run_id: str, token: str, step: str) -> None:
    _send(extract.extract(worker_context(), run_id, token, step))


@dramatiq.actor(actor_name=messages.STAGE, queue_name=messages.QUEUE_LOAD, time_limit=2 * 60 * _MINUTE, **_RETRIES)
def stage_run(run_id: str, token: str) -> None:
    _send(stage.stage(worker_context(), run_id, token))


@dramatiq.actor(actor_name=messages.LOAD, queue_name=messages.QUEUE_LOAD, time_limit=2 * 60 * _MINUTE, **_RETRIES)
def load_entity(run_id: str, token: str, entity: str) -> None:
    _send(load.load(worker_context(), run_id, token, entity))


@dramatiq.actor(actor_name=messages.DEACTIVATE, queue_name=messages.QUEUE_LOAD, time_limit=2 * 60 * _MINUTE, **_RETRIES)
def deactivate_run(run_id: str, token: str) -> None:
    _send(deactivate.deactivate(worker_context(), run_id, token))


@dramatiq.actor(actor_name=messages.FINALIZE, queue_name=messages.QUEUE_CONTROL, time_limit=10 * _MINUTE, **_RETRIES)
def finalize_run(run_id: str, token: str) -> None:
    _send(finalize.finalize(worker_context(), run_id, token))


@dramatiq.actor(actor_name=PHASE_FAILED, queue_name=messages.QUEUE_CONTROL, max_retries=5, time_limit=_MINUTE)
def phase_failed(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    args = message_data.get("args") or []
    if not args:
        return
    actor = str(message_data.get("actor_name", "a phase"))
    token = str(args[1]) if len(args) > 1 and actor != messages.START_SYNC else None
    log.error("run %s: %s failed after %s retries", args[0], actor, retry_info.get("retries"))
    _send(
        control.fail(
            worker_context(),
            str(args[0]),
            f"Internal error in {actor.removeprefix('sis.')} after {retry_info.get('retries', 0)} retries; "
            "see the worker logs",
            token=token,
        )
    )
