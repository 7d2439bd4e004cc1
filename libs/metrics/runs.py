"""Counting a run that ended: its outcome and its records, from the run row itself.

Called in the transaction that ended the run, right after `runs.finish` changed it, so every
way a worker ends a run (the last phase, a failure, a cancel) counts the same. A commit that
fails after this line over-counts one run; a counter is an estimate across restarts anyway.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

from libs.enums import EntityType
from libs.etl.details import RunStats
from libs.metrics import counters


def run_ended(conn: Connection, run_id: uuid.UUID | str) -> None:
    row = conn.execute(
        text(
            "SELECT r.status::text AS status, r.tenant_id, p.provider_type::text AS type, r.stats "
            "FROM sis_sync_runs r JOIN sis_providers p ON p.id = r.provider_id WHERE r.id = :r"
        ),
        {"r": run_id},
    ).first()
    if row is None:
        return
    counters.run_finished(row.status, row.type, row.tenant_id)
    if row.stats:
        stats = RunStats.model_validate(row.stats)
        counters.records({entity.value: stats.of(entity).model_dump() for entity in EntityType}, row.tenant_id)
