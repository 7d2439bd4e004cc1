"""Running a sync through every phase in this process, against the configured database.

The phase functions are the workers' own (libs/etl); only the queue is replaced by a loop,
with extract messages spread over a thread pool as several extract workers would take them.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from libs.etl import control, deactivate, extract, finalize, load, plan, stage
from libs.etl.context import EtlContext
from libs.queue import messages
from libs.queue.messages import Message

ROUTES: dict[str, Callable[..., list[Message]]] = {
    messages.START_SYNC: control.start,
    messages.PLAN: plan.plan,
    messages.EXTRACT: extract.extract,
    messages.STAGE: stage.stage,
    messages.LOAD: load.load,
    messages.DEACTIVATE: deactivate.deactivate,
    messages.FINALIZE: finalize.finalize,
}


def drive(ctx: EtlContext, run_id: uuid.UUID, *, extract_workers: int) -> None:
    pending: deque[Message] = deque([messages.start_sync(run_id)])
    with ThreadPoolExecutor(max_workers=max(1, extract_workers)) as pool:
        while pending:
            extracts = [m for m in pending if m.actor == messages.EXTRACT]
            if extracts:
                pending = deque(m for m in pending if m.actor != messages.EXTRACT)
                for produced in pool.map(lambda m: _deliver(ctx, m), extracts):
                    pending.extend(produced)
                continue
            pending.extend(_deliver(ctx, pending.popleft()))


def _deliver(ctx: EtlContext, message: Message) -> list[Message]:
    args: Any = message.args
    return ROUTES[message.actor](ctx, *args)
