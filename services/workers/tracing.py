"""A span per message a worker processes, under the trace context the message carries.

Each phase of a run is one message, so each phase (and each extract or load part) is one span,
named by its actor (`sis.plan`, `sis.extract`, ...), and the messages it sends carry its context
on (`services/queue/send.py`): the phases of a run line up in the trace of the request that
started it. Only added when tracing is on (`libs.tracing.setup`).
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy

from libs import tracing
from libs.etl import pipeline
from libs.etl.phase import CANCEL_SYNC, START_SYNC
from services.queue.send import TRACE

# actors whose first argument is a run id
RUN_ACTORS = frozenset({START_SYNC, CANCEL_SYNC, *(spec.phase.actor for spec in pipeline.PHASES)})


class TraceMessages(dramatiq.Middleware):
    def __init__(self) -> None:
        self._open: dict[str, tracing.Open] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        attributes: dict[str, str | int] = {
            "messaging.system": "dramatiq",
            "messaging.destination.name": message.queue_name,
            "messaging.message.id": message.message_id,
        }
        if message.actor_name in RUN_ACTORS and message.args:
            attributes["sis.run_id"] = str(message.args[0])
            if len(message.args) > 2 and message.args[2]:
                attributes["sis.part"] = str(message.args[2])
        opened = tracing.begin(message.actor_name, parent=message.options.get(TRACE), attributes=attributes)
        if opened is not None:
            self._open[message.message_id] = opened

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        opened = self._open.pop(message.message_id, None)
        if opened is not None:
            opened.end(exception)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self.after_process_message(broker, message)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        tracing.shutdown()
