"""Sending the messages a run asks for: `Next` values become Dramatiq messages.

Senders (API, scheduler, actors) call `send` only after the transaction the messages depend on
has committed. Actor names and queues come from the phase table (`libs/etl/pipeline.py`), so a
sender never imports actor code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import dramatiq
import redis

from libs import tracing
from libs.etl.phase import Next

# message option: the step keeps a CPU busy, so a worker process takes one such message at a
# time and leaves the next to another process (services/queue/consumer.py)
CPU_BOUND = "sis_cpu_bound"
# message option: the W3C trace context of the span that sent it, when tracing is on (libs/tracing.py)
TRACE = "sis_trace"

log = logging.getLogger(__name__)


def send(messages: Iterable[Next], broker: dramatiq.Broker | None = None, *, patience: float = 150.0) -> None:
    """Enqueue messages. Call only after the commit that the messages depend on.

    The commit has happened, so a message lost now would leave its run waiting for the
    scheduler's re-send: through a Redis restart or failover, sending is retried for up to
    `patience` seconds (OUTAGE_GRACE_SECONDS in the workers) before the error goes up.
    """
    broker = broker or dramatiq.get_broker()
    trace = tracing.carrier()
    for message in messages:
        _enqueue(
            broker,
            dramatiq.Message(
                queue_name=message.queue.value,
                actor_name=message.actor,
                args=message.args,
                kwargs={},
                options=({CPU_BOUND: True} if message.cpu_bound else {}) | ({TRACE: trace} if trace else {}),
            ),
            patience,
        )


def _enqueue(broker: dramatiq.Broker, message: dramatiq.Message[object], patience: float) -> None:
    started, pause = time.monotonic(), 0.5
    while True:
        try:
            broker.enqueue(message)
            return
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() - started > patience:
                raise
            log.warning("Redis is unreachable; sending %s again in %.1f s", message.actor_name, pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
