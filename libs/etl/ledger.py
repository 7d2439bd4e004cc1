"""The change ledger (`sis_change_ledger`): what a run changed, so that it can be undone.

Per store row and link row a run writes: the action and the whole row as it was before (to_jsonb,
so an undo restores every column exactly, bookkeeping included); a created row only its key.
Each write is one INSERT ... SELECT in the transaction of the change it records, never a row
from Python: load records the planned rows joined with the store just before its MERGE (a MERGE
has no RETURNING in Postgres 15), deactivation inside the same statement as its UPDATEs.
Rows are numbered in write order (`id`), so a run's first row of a key holds the key's state
before the run, and a later run's rows of the key come after.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from libs.enums import EntityType

STORE_TABLES = {
    EntityType.SCHOOL: "schools",
    EntityType.TERM: "terms",
    EntityType.CLASS: "classes",
    EntityType.USER: "users",
    EntityType.ENROLLMENT: "enrollments",
}

COLUMNS = "run_id, target, entity_type, entity_id, provider_id, external_id, action, before"


def record_entities(conn: Connection, entity: EntityType, ids_sql: str, params: dict[str, Any]) -> int:
    """Before a write of the store rows whose ids `ids_sql` (one column `id`) selects."""
    return conn.execute(
        text(
            f"""
            INSERT INTO sis_change_ledger ({COLUMNS})
            SELECT :r, 'entity', :ledger_entity, k.id, NULL, NULL,
                   CASE WHEN x.id IS NULL THEN 'create' ELSE 'update' END, to_jsonb(x)
              FROM ({ids_sql}) k LEFT JOIN {STORE_TABLES[entity]} x ON x.id = k.id
            """
        ),
        {**params, "ledger_entity": entity.value},
    ).rowcount


def record_links(conn: Connection, entity: EntityType, external_ids_sql: str, params: dict[str, Any]) -> int:
    """Before a write of the provider's links whose external ids `external_ids_sql` (one column
    `external_id`) selects."""
    return conn.execute(
        text(
            f"""
            INSERT INTO sis_change_ledger ({COLUMNS})
            SELECT :r, 'link', :ledger_entity, NULL, :p, k.external_id,
                   CASE WHEN l.external_id IS NULL THEN 'create' ELSE 'update' END, to_jsonb(l)
              FROM ({external_ids_sql}) k
              LEFT JOIN sis_entity_links l
                ON l.provider_id = :p AND l.entity_type = :ledger_entity AND l.external_id = k.external_id
            """
        ),
        {**params, "ledger_entity": entity.value},
    ).rowcount


def deactivation_ctes(entity: EntityType, gone: str, orphaned: str) -> str:
    """WITH items that record a deactivation inside its own statement: every item of a WITH sees
    the rows as they were before it, so these read the before-images of what `gone` (links:
    `external_id`) and `orphaned` (store rows: `id`) change."""
    return f"""
            kept_links AS (
                INSERT INTO sis_change_ledger ({COLUMNS})
                SELECT :r, 'link', :e, NULL, :p, l.external_id, 'deactivate', to_jsonb(l)
                  FROM sis_entity_links l
                 WHERE l.provider_id = :p AND l.entity_type = :e AND l.external_id IN (SELECT external_id FROM {gone})
            ), kept_entities AS (
                INSERT INTO sis_change_ledger ({COLUMNS})
                SELECT :r, 'entity', :e, x.id, NULL, NULL, 'deactivate', to_jsonb(x)
                  FROM {STORE_TABLES[entity]} x WHERE x.id IN (SELECT id FROM {orphaned})
            )"""


def has_changes(conn: Connection, run_id: Any) -> bool:
    return bool(
        conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM sis_change_ledger WHERE run_id = :r)"), {"r": run_id}
        ).scalar_one()
    )


def prune(conn: Connection, retention_days: int) -> int:
    """Drop the ledger of runs that ended more than `retention_days` ago (the scheduler tick);
    they say so (`ledger_pruned_at`) and can no longer be undone. Returns how many runs."""
    rows = conn.execute(
        text(
            """
            WITH old AS (
                UPDATE sis_sync_runs SET ledger_pruned_at = now()
                 WHERE completed_at < now() - make_interval(days => :days) AND ledger_pruned_at IS NULL
                   AND status NOT IN ('PENDING', 'IN_PROGRESS', 'HELD')
                RETURNING id
            ), gone AS (
                DELETE FROM sis_change_ledger WHERE run_id IN (SELECT id FROM old) RETURNING 1
            )
            SELECT (SELECT count(*) FROM old) AS runs, (SELECT count(*) FROM gone) AS rows
            """
        ),
        {"days": retention_days},
    ).one()
    return int(rows.runs)
