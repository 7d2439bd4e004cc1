"""Admission, cancel and failure: the control side of a run, and the guard every phase runs in."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from sqlalchemy import Connection

from libs.enums import SyncStatus
from libs.etl import runs
from libs.etl.context import EtlContext
from libs.etl.providers import ConfigUnreadable
from libs.queue import messages
from libs.queue.messages import Message

log = logging.getLogger(__name__)


def _admit(ctx: EtlContext, conn: Connection) -> list[Message]:
    admitted = runs.admit_pending(conn, max_concurrent=ctx.settings.max_concurrent_syncs, lease_ms=ctx.lease_ms)
    return [messages.plan(a.run_id, a.lease_token) for a in admitted]


def start(ctx: EtlContext, run_id: str) -> list[Message]:
    """Admit waiting runs (oldest first) into free slots; the admitted ones get planned.

    The run named in the message is not admitted ahead of older waiting runs: waiting lives
    in Postgres, in request order, and whichever start, finish or scheduler tick comes next
    admits from the head of that queue.
    """
    with ctx.engine.begin() as conn:
        sent = _admit(ctx, conn)
    if not any(m.args[0] == str(uuid.UUID(run_id)) for m in sent):
        log.info("run %s waits for a free slot (MAX_CONCURRENT_SYNCS=%s)", run_id, ctx.settings.max_concurrent_syncs)
    return sent


def cancel(ctx: EtlContext, run_id: str) -> list[Message]:
    """End a run whose cancel was requested; its in-flight transactions roll back at their fence."""
    with ctx.engine.begin() as conn:
        state = runs.lease_state(conn, run_id)
        if state is None or state["cancel_requested_at"] is None:
            return []
        ended = runs.finish(conn, run_id, status=SyncStatus.CANCELLED, error_message="Cancelled by request")
        if ended:
            log.info("run %s cancelled", run_id)
        return _admit(ctx, conn) if ended else []


def fail(ctx: EtlContext, run_id: str, message: str, *, token: str | None = None) -> list[Message]:
    """End a run FAILURE with a message for the admin; free its slot for the next one."""
    with ctx.engine.begin() as conn:
        ended = runs.finish(conn, run_id, status=SyncStatus.FAILURE, error_message=message, token=token)
        if ended:
            log.warning("run %s failed: %s", run_id, message)
        return _admit(ctx, conn) if ended else []


def guarded(ctx: EtlContext, run_id: str, token: str, body: Callable[[], list[Message]]) -> list[Message]:
    """Run a phase; a cancel ends the run CANCELLED, a config no key opens ends it FAILURE, a
    lost lease or a duplicate delivery stops quietly."""
    try:
        return body()
    except ConfigUnreadable as exc:
        return fail(ctx, run_id, exc.message, token=token)
    except runs.RunCancelled:
        return cancel(ctx, run_id)
    except runs.PhaseMoved:
        log.info("run %s: duplicate phase delivery ignored", run_id)
        return []
    except runs.LeaseLost:
        log.warning("run %s: lease lost, this worker stops", run_id)
        return []
