"""The actors of a run. Thin on purpose: ids in, one libs call, messages out after commit.

Actor names are the stable names of libs/queue/messages.py; queues are explicit. Retries
are for infrastructure hiccups (database or broker restarts); a run's own failures are
recorded on the run by the libs call and are not retried.
"""

from __future__ import annotations

import dramatiq

from libs.etl import control
from libs.queue import messages
from services.workers.context import worker_context


@dramatiq.actor(
    actor_name=messages.START_SYNC,
    queue_name=messages.QUEUE_CONTROL,
    max_retries=5,
    min_backoff=1_000,
    max_backoff=30_000,
    time_limit=60_000,
)
def start_sync(run_id: str) -> None:
    messages.send(control.start(worker_context(), run_id))


@dramatiq.actor(
    actor_name=messages.CANCEL_SYNC,
    queue_name=messages.QUEUE_CONTROL,
    max_retries=5,
    min_backoff=1_000,
    max_backoff=30_000,
    time_limit=60_000,
)
def cancel_sync(run_id: str) -> None:
    messages.send(control.cancel(worker_context(), run_id))
