"""Every message a run uses: stable actor names, their queues, and how to send them.

Senders (API, scheduler, actors) build `Message`s from this catalogue and hand them to `send`
after the transaction they depend on has committed. Actors are declared in
`services/workers/actors.py` under the same names, so a sender never imports actor code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dramatiq

QUEUE_CONTROL = "sis.control"
QUEUE_EXTRACT = "sis.extract"
QUEUE_LOAD = "sis.load"
QUEUES = (QUEUE_CONTROL, QUEUE_EXTRACT, QUEUE_LOAD)

# message option: the step keeps a CPU busy (parsing a file), so a worker process takes one
# such message at a time and leaves the next to another process (libs/queue/consumer.py)
CPU_BOUND = "sis_cpu_bound"


@dataclass(frozen=True)
class Message:
    actor: str
    queue: str
    args: tuple[Any, ...]
    cpu_bound: bool = False


def _msg(actor: str, queue: str) -> Any:
    def build(*args: Any) -> Message:
        return Message(actor=actor, queue=queue, args=tuple(str(a) for a in args))

    return build


START_SYNC = "sis.start_sync"
PLAN = "sis.plan"
EXTRACT = "sis.extract"
STAGE = "sis.stage"
LOAD = "sis.load"
DEACTIVATE = "sis.deactivate"
FINALIZE = "sis.finalize"
CANCEL_SYNC = "sis.cancel_sync"

ACTOR_QUEUES = {
    START_SYNC: QUEUE_CONTROL,
    PLAN: QUEUE_EXTRACT,
    EXTRACT: QUEUE_EXTRACT,
    STAGE: QUEUE_LOAD,
    LOAD: QUEUE_LOAD,
    DEACTIVATE: QUEUE_LOAD,
    FINALIZE: QUEUE_CONTROL,
    CANCEL_SYNC: QUEUE_CONTROL,
}

start_sync = _msg(START_SYNC, QUEUE_CONTROL)  # (run_id)
plan = _msg(PLAN, QUEUE_EXTRACT)  # (run_id, lease_token)


def extract(run_id: Any, lease_token: Any, step_name: str, *, cpu_bound: bool = False) -> Message:
    return Message(EXTRACT, QUEUE_EXTRACT, (str(run_id), str(lease_token), step_name), cpu_bound=cpu_bound)


stage = _msg(STAGE, QUEUE_LOAD)  # (run_id, lease_token)
load = _msg(LOAD, QUEUE_LOAD)  # (run_id, lease_token, entity_type)
deactivate = _msg(DEACTIVATE, QUEUE_LOAD)  # (run_id, lease_token)
finalize = _msg(FINALIZE, QUEUE_CONTROL)  # (run_id, lease_token)
cancel_sync = _msg(CANCEL_SYNC, QUEUE_CONTROL)  # (run_id)


def send(messages: Iterable[Message], broker: dramatiq.Broker | None = None) -> None:
    """Enqueue messages. Call only after the commit that the messages depend on."""
    broker = broker or dramatiq.get_broker()
    for message in messages:
        broker.enqueue(
            dramatiq.Message(
                queue_name=message.queue,
                actor_name=message.actor,
                args=message.args,
                kwargs={},
                options={CPU_BOUND: True} if message.cpu_bound else {},
            )
        )
