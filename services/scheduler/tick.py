"""One scheduler tick: reap runs whose worker died, admit waiting runs into free slots, and
re-send the phase message of runs that went quiet (a send lost after its commit)."""

from __future__ import annotations

import logging

from libs.db.engine import get_engine
from libs.db.settings import Settings
from libs.etl import runs
from libs.etl.resume import resume_messages
from libs.queue import messages
from libs.queue.messages import Message

log = logging.getLogger(__name__)


def tick(settings: Settings) -> None:
    engine = get_engine(settings)
    out: list[Message] = []
    with engine.begin() as conn:
        reaped = runs.reap_expired(conn)
        admitted = runs.admit_pending(
            conn, max_concurrent=settings.max_concurrent_syncs, lease_ms=settings.sync_lock_timeout
        )
        out.extend(messages.plan(a.run_id, a.lease_token) for a in admitted)
        for run_id, token, phase in runs.stale_in_progress(conn, quiet_seconds=settings.resend_after_seconds):
            log.warning("run %s quiet in phase %s; re-sending its message", run_id, phase)
            out.extend(resume_messages(conn, run_id, token, phase))
            runs.touch_dispatched(conn, run_id)
    for run_id in reaped:
        log.warning("run %s abandoned: lease expired", run_id)
    messages.send(out)
