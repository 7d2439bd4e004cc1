"""One scheduler tick: fire due schedules, reap runs whose worker died, admit waiting runs into
free slots, and re-send the phase message of runs that went quiet (a send lost after its commit).

Every step is safe in several replicas at once: firing claims providers with SKIP LOCKED,
admission runs under an advisory transaction lock, reaping skips locked rows, and a re-sent
phase is idempotent. Messages are sent only after the transaction they depend on commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import dramatiq

from libs.db.engine import get_engine
from libs.etl import runs
from libs.etl.resume import resume_messages
from libs.etl.schedule import utcnow
from libs.queue import messages
from libs.queue.messages import Message
from libs.settings import Settings
from services.scheduler.fire import Fired, fire_due, log_fired

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    fired: list[Fired] = field(default_factory=list)
    admitted: int = 0
    reaped: int = 0
    resent: int = 0


def tick(settings: Settings, *, now: datetime | None = None, broker: dramatiq.Broker | None = None) -> TickReport:
    engine = get_engine(settings)
    report = TickReport()
    with engine.begin() as conn:
        report.fired = fire_due(conn, now or utcnow())
    log_fired(report.fired)
    # A created scheduled run needs no start_sync: admission just below is what that message
    # would do, so no send can be lost between this commit and the run's admission.
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
            report.resent += 1
    report.reaped = len(reaped)
    report.admitted = len(admitted)
    for run_id in reaped:
        log.warning("run %s abandoned: lease expired", run_id)
    messages.send(out, broker)
    return report
