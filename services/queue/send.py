"""Sending the messages a run asks for: `Next` values become Dramatiq messages.

Senders (API, scheduler, actors) call `send` only after the transaction the messages depend on
has committed. Actor names and queues come from the phase table (`libs/etl/pipeline.py`), so a
sender never imports actor code.
"""

from __future__ import annotations

from collections.abc import Iterable

import dramatiq

from libs.etl.phase import Next

# message option: the step keeps a CPU busy, so a worker process takes one such message at a
# time and leaves the next to another process (services/queue/consumer.py)
CPU_BOUND = "sis_cpu_bound"


def send(messages: Iterable[Next], broker: dramatiq.Broker | None = None) -> None:
    """Enqueue messages. Call only after the commit that the messages depend on."""
    broker = broker or dramatiq.get_broker()
    for message in messages:
        broker.enqueue(
            dramatiq.Message(
                queue_name=message.queue.value,
                actor_name=message.actor,
                args=message.args,
                kwargs={},
                options={CPU_BOUND: True} if message.cpu_bound else {},
            )
        )
