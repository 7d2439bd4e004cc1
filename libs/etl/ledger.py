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


def record_entities(conn: Connection, entity: EntityType, ids_sql: str, params: dict[str, Any]) -> None:
    """Before a write of the store rows whose ids `ids_sql` (one column `id`) selects."""
    _record(
        conn,
        f"SELECT k.id::text AS key, k.id AS entity_id, NULL::text AS external_id, to_jsonb(x) AS before, "
        f"x.id IS NULL AS new FROM ({ids_sql}) k LEFT JOIN {STORE_TABLES[entity]} x ON x.id = k.id",
        "entity",
        entity,
        params,
    )


def record_links(conn: Connection, entity: EntityType, external_ids_sql: str, params: dict[str, Any]) -> None:
    """Before a write of the provider's links whose external ids `external_ids_sql` (one column
    `external_id`) selects."""
    _record(
        conn,
        f"SELECT k.external_id AS key, NULL::uuid AS entity_id, k.external_id, to_jsonb(l) AS before, "
        f"l.external_id IS NULL AS new FROM ({external_ids_sql}) k LEFT JOIN sis_entity_links l "
        "ON l.provider_id = :p AND l.entity_type = :ledger_entity AND l.external_id = k.external_id",
        "link",
        entity,
        params,
    )


def _record(conn: Connection, rows_sql: str, target: str, entity: EntityType, params: dict[str, Any]) -> None:
    """A row per changed row with its before-image, and one row listing the keys of the created ones."""
    provider = ":p" if target == "link" else "NULL::uuid"
    conn.execute(
        text(
            f"""
            WITH k AS MATERIALIZED ({rows_sql}), changed AS (
                INSERT INTO sis_change_ledger ({COLUMNS})
                SELECT :r, '{target}', :ledger_entity, k.entity_id, {provider}, k.external_id, 'update', k.before
                  FROM k WHERE NOT k.new
            )
            INSERT INTO sis_change_ledger ({COLUMNS}, created)
            SELECT :r, '{target}', :ledger_entity, NULL, {provider}, NULL, 'create', NULL, array_agg(k.key)
              FROM k WHERE k.new HAVING count(*) > 0
            """
        ),
        {**params, "ledger_entity": entity.value},
    )


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
