"""Messages that continue a run from its recorded phase.

A message can be lost between the commit that called for it and its send (a crash in that
gap). The scheduler finds runs that went quiet with a live lease and re-sends what their phase
needs; every phase is idempotent and fenced, so a message that was not lost after all is a
harmless duplicate.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

from libs.enums import EntityType
from libs.etl import steps
from libs.queue import messages
from libs.queue.messages import Message


def resume_messages(conn: Connection, run_id: uuid.UUID, token: uuid.UUID, phase: str | None) -> list[Message]:
    if phase == "plan":
        return [messages.plan(run_id, token)]
    if phase == "extract":
        pending = conn.execute(
            text(
                "SELECT step, detail FROM sis_sync_run_steps"
                " WHERE run_id = :r AND step LIKE 'extract:%' AND status <> 'done' ORDER BY step"
            ),
            {"r": run_id},
        )
        return [
            messages.extract(
                run_id,
                token,
                name.removeprefix(steps.EXTRACT_PREFIX),
                cpu_bound=bool(((detail or {}).get("step") or {}).get("cpu_bound", False)),
            )
            for name, detail in pending
        ]
    if phase == "stage":
        return [messages.stage(run_id, token)]
    if phase and phase.startswith("load:"):
        return [messages.load(run_id, token, EntityType(phase.removeprefix("load:")).value)]
    if phase == "deactivate":
        return [messages.deactivate(run_id, token)]
    if phase == "finalize":
        return [messages.finalize(run_id, token)]
    return []
