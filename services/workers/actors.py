"""The actors of a run: one per row of the phase table, plus admission, cancel, give-up and the
delivery of webhook messages.

Thin on purpose: ids in, one libs call, messages out after commit. A run's own failures (a
source refusing credentials, a broken package) are recorded on the run by the libs call and are
not retried. Anything else (a database restart, a bug) is retried a few times with backoff; when
retries run out, `phase_failed` ends the run FAILURE so its slot frees.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from libs.etl import pipeline
from libs.etl.phase import CANCEL_SYNC, PHASE_FAILED, START_SYNC, Queue
from libs.etl.pipeline import PhaseSpec
from libs.logs import run_context
from libs.webhooks import deliver, events
from services.queue.send import send
from services.workers.context import worker_context

log = logging.getLogger(__name__)

_RETRIES: dict[str, Any] = {
    "max_retries": 3,
    "min_backoff": 1_000,
    "max_backoff": 30_000,
    "on_retry_exhausted": PHASE_FAILED,
}
_MINUTE = 60_000


def _phase_actor(spec: PhaseSpec) -> dramatiq.Actor[..., None]:
    def run(run_id: str, token: str, part: str | None = None) -> None:
        ctx = worker_context()
        send(pipeline.run_phase(ctx, spec.phase, run_id, token, part), patience=ctx.settings.outage_grace_seconds)

    run.__name__ = f"{spec.phase.value}_phase"
    declare = dramatiq.actor(
        actor_name=spec.phase.actor, queue_name=spec.queue.value, time_limit=spec.time_limit_ms, **_RETRIES
    )
    return declare(run)


PHASE_ACTORS = {spec.phase: _phase_actor(spec) for spec in pipeline.PHASES}


@dramatiq.actor(actor_name=START_SYNC, queue_name=Queue.CONTROL.value, time_limit=_MINUTE, **_RETRIES)
def start_sync(run_id: str) -> None:
    ctx = worker_context()
    send(pipeline.start(ctx, run_id), patience=ctx.settings.outage_grace_seconds)


@dramatiq.actor(actor_name=CANCEL_SYNC, queue_name=Queue.CONTROL.value, time_limit=_MINUTE, **_RETRIES)
def cancel_sync(run_id: str) -> None:
    ctx = worker_context()
    send(pipeline.cancel(ctx, run_id), patience=ctx.settings.outage_grace_seconds)


@dramatiq.actor(actor_name=PHASE_FAILED, queue_name=Queue.CONTROL.value, max_retries=5, time_limit=_MINUTE)
def phase_failed(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    args = message_data.get("args") or []
    if not args:
        return
    actor = str(message_data.get("actor_name", "a phase"))
    spec = next((s for s in pipeline.PHASES if s.phase.actor == actor), None)
    token = str(args[1]) if spec is not None and len(args) > 1 else None
    # only while the run is still in the phase that gave up: another delivery may have moved it on
    position = pipeline.position_of(spec, (args[2] or None) if len(args) > 2 else None) if spec else None
    with run_context(run_id=args[0]):
        log.error("run %s: %s failed after %s retries", args[0], actor, retry_info.get("retries"))
    send(
        pipeline.fail(
            worker_context(),
            str(args[0]),
            f"Internal error in {actor.removeprefix('sis.')} after {retry_info.get('retries', 0)} retries; "
            "see the worker logs",
            token=token,
            phase=position,
        )
    )


# retries are counted in the delivery log and timed by WEBHOOK_RETRY_BASE_SECONDS (Retry's delay);
# Dramatiq's own count is only a ceiling for unexpected errors (a database outage)
@dramatiq.actor(actor_name=events.DELIVER, queue_name=events.QUEUE.value, time_limit=_MINUTE, max_retries=60)
def webhook_deliver(webhook_id: str, message_id: str, body: str) -> None:
    ctx = worker_context()
    attempt = deliver.deliver(ctx.engine, ctx.cipher, ctx.settings, webhook_id, message_id, body)
    if attempt is not None and attempt.retry_in is not None:
        delay = int(attempt.retry_in * 1000)
        raise dramatiq.Retry(f"webhook {webhook_id}: attempt {attempt.number} failed", delay=delay)
