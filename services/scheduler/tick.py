"""One scheduler tick: fire due schedules, admit waiting runs, reap runs whose worker died.

Every step is safe in several replicas at once: firing claims providers with SKIP LOCKED,
admission runs under an advisory transaction lock, reaping skips locked rows. Messages are
sent only after the transaction that created their runs has committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import dramatiq

from libs.db.engine import get_engine
from libs.db.settings import Settings
from libs.etl import runs
from libs.etl.schedule import utcnow
from libs.queue import messages
from services.scheduler.fire import Fired, fire_due, log_fired

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    fired: list[Fired] = field(default_factory=list)
    admitted: int = 0
    reaped: int = 0


def tick(settings: Settings, *, now: datetime | None = None, broker: dramatiq.Broker | None = None) -> TickReport:
    engine = get_engine(settings)
    report = TickReport()
    with engine.begin() as conn:
        report.fired = fire_due(conn, now or utcnow())
    log_fired(report.fired)
    # a created run's start_sync only admits; admission below does the same work, so the
    # message is not needed from here, and a start_sync lost between commit and send is harmless
    with engine.begin() as conn:
        reaped = runs.reap_expired(conn)
        admitted = runs.admit_pending(
            conn, max_concurrent=settings.max_concurrent_syncs, lease_ms=settings.sync_lock_timeout
        )
    report.reaped = len(reaped)
    report.admitted = len(admitted)
    for run_id in reaped:
        log.warning("run %s abandoned: lease expired", run_id)
    messages.send((messages.plan(a.run_id, a.lease_token) for a in admitted), broker)
    return report
