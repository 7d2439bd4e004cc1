"""Admission and cancel: the control-queue side of a run."""

from __future__ import annotations

import logging
import uuid

from libs.enums import SyncStatus
from libs.etl import runs
from libs.etl.context import EtlContext
from libs.queue import messages
from libs.queue.messages import Message

log = logging.getLogger(__name__)


def start(ctx: EtlContext, run_id: str) -> list[Message]:
    """Admit waiting runs (oldest first) into free slots; the admitted ones get planned.

    The run named in the message is not admitted ahead of older waiting runs: waiting lives
    in Postgres, in request order, and whichever start, finish or scheduler tick comes next
    admits from the head of that queue.
    """
    with ctx.engine.begin() as conn:
        admitted = runs.admit_pending(conn, max_concurrent=ctx.settings.max_concurrent_syncs, lease_ms=ctx.lease_ms)
    if not any(a.run_id == uuid.UUID(run_id) for a in admitted):
        log.info("run %s waits for a free slot (MAX_CONCURRENT_SYNCS=%s)", run_id, ctx.settings.max_concurrent_syncs)
    return [messages.plan(a.run_id, a.lease_token) for a in admitted]


def cancel(ctx: EtlContext, run_id: str) -> list[Message]:
    """End a run whose cancel was requested; its in-flight transactions roll back at their fence."""
    with ctx.engine.begin() as conn:
        state = runs.lease_state(conn, run_id)
        if state is None or state["cancel_requested_at"] is None:
            return []
        ended = runs.finish(conn, run_id, status=SyncStatus.CANCELLED, error_message="Cancelled by request")
        admitted = (
            runs.admit_pending(conn, max_concurrent=ctx.settings.max_concurrent_syncs, lease_ms=ctx.lease_ms)
            if ended
            else []
        )
    return [messages.plan(a.run_id, a.lease_token) for a in admitted]
