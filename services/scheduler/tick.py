"""One scheduler tick: admit waiting runs into free slots and reap runs whose worker died."""

from __future__ import annotations

import logging

from libs.db.engine import get_engine
from libs.db.settings import Settings
from libs.etl import runs
from libs.queue import messages

log = logging.getLogger(__name__)


def tick(settings: Settings) -> None:
    engine = get_engine(settings)
    with engine.begin() as conn:
        reaped = runs.reap_expired(conn)
        admitted = runs.admit_pending(
            conn, max_concurrent=settings.max_concurrent_syncs, lease_ms=settings.sync_lock_timeout
        )
    for run_id in reaped:
        log.warning("run %s abandoned: lease expired", run_id)
    messages.send(messages.plan(a.run_id, a.lease_token) for a in admitted)
