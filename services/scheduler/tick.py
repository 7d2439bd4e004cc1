"""One scheduler tick: fire due schedules, reap runs whose worker died, admit waiting runs into
free slots, re-send the phase message of runs that went quiet (a send lost after its commit), and
announce providers that went stale or recovered (libs/webhooks/stale.py).

Every step is safe in several replicas at once: firing claims providers with SKIP LOCKED,
admission runs under an advisory transaction lock, reaping skips locked rows, and a re-sent
phase is idempotent. Messages are sent only after the transaction they depend on commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import dramatiq
from sqlalchemy import text

from libs.db.engine import get_engine
from libs.etl import held, ledger, pipeline, runs
from libs.settings import Settings
from libs.webhooks import events as webhook_events
from libs.webhooks import outbox, stale
from services.queue.send import send
from services.scheduler.fire import Fired, fire_due, log_fired

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    fired: list[Fired] = field(default_factory=list)
    admitted: int = 0
    reaped: int = 0
    resent: int = 0
    ledgers_pruned: int = 0


def tick(settings: Settings, *, now: datetime | None = None, broker: dramatiq.Broker | None = None) -> TickReport:
    engine = get_engine(settings)
    report = TickReport()
    with engine.begin() as conn:
        # the database's clock, which every replica shares: a scheduler host whose clock is off
        # fires nothing early or late
        now = now or conn.execute(text("SELECT now()")).scalar_one()
        report.fired = fire_due(conn, now)
    log_fired(report.fired)
    # A created scheduled run needs no start_sync: admission just below is what that message
    # would do, so no send can be lost between this commit and the run's admission.
    with engine.begin() as conn:
        reaped = runs.reap_expired(conn)
        # held plans nobody decided on within HELD_PLAN_TTL_HOURS end CANCELLED
        expired = held.expire(conn)
        admitted = pipeline.admit(conn, settings)
        resent = pipeline.stale_runs(conn, settings)
        superseded = [run_id for item in report.fired for run_id in item.superseded]
        ended = reaped + expired + superseded
        announced = [m for run_id in ended for m in webhook_events.run_ended(conn, run_id)]
    with engine.begin() as conn:
        announced += stale.check(conn, now)
    # change ledgers older than LEDGER_RETENTION_DAYS go; their runs can no longer be undone
    with engine.begin() as conn:
        report.ledgers_pruned = ledger.prune(conn, settings.ledger_retention_days)
    # messages of earlier events that a crash or the broker lost (libs/webhooks/outbox.py)
    with engine.begin() as conn:
        announced += outbox.lost(conn, settings, now)
    report.reaped = len(reaped)
    report.admitted = len(admitted)
    report.resent = len({m.args[0] for m in resent})
    for run_id in reaped:
        log.warning("run %s abandoned: lease expired", run_id)
    for run_id in expired:
        log.info("run %s: its held plan expired", run_id)
    send(admitted + resent + announced, broker, patience=settings.outage_grace_seconds)
    return report
