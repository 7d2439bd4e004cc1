"""Undo: take back what a run applied, from its change ledger (libs/etl/ledger.py).

An undo is a run of its own (`kind = 'undo'`): it starts at the UNDO phase, one part per entity
type, each in one fenced transaction, then finalize. Per store row and link row the undone run
changed, its first ledger row holds the row as it was before the run: an updated or deactivated
row gets that row back (every column, so a reactivated row also gets its old `updated_at`), a
created row is deactivated (never deleted). A row a later run changed (a later ledger row of
another run) is left alone and reported as an `undo_conflict` error naming that run, unless the
undo was forced. The undo writes its own ledger first, so undoing an undo redoes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from libs.db.models import Base
from libs.enums import LOAD_ORDER, EntityType, RunKind, SyncStatus, SyncTrigger
from libs.etl import held, ledger, steps
from libs.etl.details import RunOptions, UndoDetail, Undone
from libs.etl.phase import Job, Phase, StepDone
from libs.etl.sql import data_path_settings

# where an undo run starts
START = Phase.UNDO.step(LOAD_ORDER[0].value)
UNDOABLE = (SyncStatus.SUCCESS, SyncStatus.PARTIAL, SyncStatus.CANCELLED, SyncStatus.FAILURE)
# how many conflicts a preview names
NAMED = 20

_LINK_KEY = ("provider_id", "entity_type", "external_id")


class UndoRefused(Exception):
    """The run cannot be undone (`code`, `message` for the admin)."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        self.code = code
        self.message = message
        self.extra = extra
        super().__init__(message)


def _columns(table: str) -> list[str]:
    return [c.name for c in Base.metadata.tables[table].columns]


def _targets(conn: Connection, of: uuid.UUID, me: uuid.UUID, entity: EntityType, target: str, force: bool) -> None:
    """`undo_targets`: per row the undone run changed, its before-image and the later run that
    changed it since (NULL: none, or the undo is forced). Later rows are looked for only among
    the ledger rows written after the undone run's first one (a range of the primary key)."""
    key = "entity_id" if target == "entity" else "external_id"
    key_type = "uuid" if target == "entity" else "text"
    # a bound number, not a subquery: the planner then sees how few rows were written after the
    # run and reads them by the primary key, instead of scanning the whole ledger once per row
    floor = conn.execute(
        text("SELECT coalesce(min(id), 0) FROM sis_change_ledger WHERE run_id = :of"), {"of": of}
    ).scalar_one()
    conn.execute(
        text(
            f"""
            CREATE TEMP TABLE undo_targets ON COMMIT DROP AS
            WITH written AS (
                SELECT id, {key} AS key, before, action, provider_id FROM sis_change_ledger
                 WHERE run_id = CAST(:of AS uuid) AND target = :target AND entity_type = :e AND created IS NULL
                UNION ALL
                SELECT id, CAST(unnest(created) AS {key_type}), NULL, action, provider_id FROM sis_change_ledger
                 WHERE run_id = CAST(:of AS uuid) AND target = :target AND entity_type = :e AND created IS NOT NULL
            ), mine AS (
                SELECT key, (array_agg(before ORDER BY id))[1] AS before,
                       (array_agg(action ORDER BY id))[1] AS action, min(id) AS first_id, max(id) AS last_id,
                       min(provider_id::text)::uuid AS provider_id
                  FROM written GROUP BY key
            ), after AS MATERIALIZED (
                SELECT c.id, c.{key} AS key, c.provider_id, c.run_id FROM sis_change_ledger c
                 WHERE c.id > :floor AND c.target = :target AND c.entity_type = :e
                   AND c.run_id NOT IN (CAST(:of AS uuid), CAST(:me AS uuid)) AND NOT CAST(:force AS boolean)
            ), later AS (
                SELECT DISTINCT ON (m.key) m.key, c.run_id
                  FROM mine m JOIN after c
                    ON c.key = m.key AND c.id > m.last_id AND c.provider_id IS NOT DISTINCT FROM m.provider_id
                 ORDER BY m.key, c.id
            )
            SELECT m.key, m.before, m.action, m.provider_id, later.run_id AS later
              FROM mine m LEFT JOIN later USING (key)
            """
        ),
        {"of": of, "me": me, "target": target, "e": entity.value, "force": force, "floor": floor},
    )
    conn.execute(text("ANALYZE undo_targets"))


def _undo_store(
    conn: Connection, of: uuid.UUID, me: uuid.UUID, entity: EntityType, force: bool, provider_id: Any
) -> Undone:
    table = ledger.STORE_TABLES[entity]
    _targets(conn, of, me, entity, "entity", force)
    counts = _counts(conn, f"{table} x", "x.id = u.key")
    _conflicts(
        conn,
        me,
        entity,
        "coalesce((SELECT l.external_id FROM sis_entity_links l WHERE l.provider_id = :p AND l.entity_type = :e "
        "AND l.entity_id = u.key LIMIT 1), u.key::text)",
        {"p": provider_id},
    )
    # the undo's own ledger: the rows as they are now, so that undoing this undo redoes
    conn.execute(
        text(
            f"""
            INSERT INTO sis_change_ledger ({ledger.COLUMNS})
            SELECT CAST(:me AS uuid), 'entity', CAST(:e AS varchar), x.id, NULL, NULL, 'update', to_jsonb(x)
              FROM undo_targets u JOIN {table} x ON x.id = u.key WHERE u.later IS NULL
            """
        ),
        {"me": me, "e": entity.value},
    )
    columns = _columns(table)
    restored = conn.execute(
        text(
            f"""
            UPDATE {table} x SET ({", ".join(columns)}) = ({", ".join("b." + c for c in columns)})
              FROM (SELECT (jsonb_populate_record(NULL::{table}, u.before)).*
                      FROM undo_targets u WHERE u.later IS NULL AND u.before IS NOT NULL) b
             WHERE x.id = b.id
            """
        )
    ).rowcount
    created = conn.execute(
        text(
            f"""
            UPDATE {table} x SET active = false, deactivated_at = now(), updated_at = now()
              FROM undo_targets u WHERE x.id = u.key AND u.later IS NULL AND u.before IS NULL AND x.active
            """
        )
    ).rowcount
    conn.execute(text("DROP TABLE undo_targets"))
    return Undone(
        restored=restored,
        reactivated=counts["reactivated"],
        deactivated=created,
        conflicts=counts["conflicts"],
        rows_written=restored + created,
    )


def _undo_links(conn: Connection, of: uuid.UUID, me: uuid.UUID, entity: EntityType, force: bool) -> Undone:
    _targets(conn, of, me, entity, "link", force)
    join = "x.provider_id = u.provider_id AND x.entity_type = :e AND x.external_id = u.key"
    counts = _counts(conn, "sis_entity_links x", join, {"e": entity.value})
    _conflicts(conn, me, entity, "u.key", {})
    conn.execute(
        text(
            f"""
            INSERT INTO sis_change_ledger ({ledger.COLUMNS})
            SELECT CAST(:me AS uuid), 'link', CAST(:e AS varchar), NULL, x.provider_id, x.external_id, 'update',
                   to_jsonb(x)
              FROM undo_targets u JOIN sis_entity_links x ON {join} WHERE u.later IS NULL
            """
        ),
        {"me": me, "e": entity.value},
    )
    columns = [c for c in _columns("sis_entity_links") if c not in _LINK_KEY]
    restored = conn.execute(
        text(
            f"""
            UPDATE sis_entity_links x SET ({", ".join(columns)}) = ({", ".join("b." + c for c in columns)})
              FROM (SELECT (jsonb_populate_record(NULL::sis_entity_links, u.before)).*
                      FROM undo_targets u WHERE u.later IS NULL AND u.before IS NOT NULL) b
             WHERE x.provider_id = b.provider_id AND x.entity_type = b.entity_type AND x.external_id = b.external_id
            """
        )
    ).rowcount
    created = conn.execute(
        text(
            f"""
            UPDATE sis_entity_links x
               SET active = false, deactivated_at = now(), last_changed_run_id = CAST(:me AS uuid), updated_at = now()
              FROM undo_targets u WHERE {join} AND u.later IS NULL AND u.before IS NULL AND x.active
            """
        ),
        {"me": me, "e": entity.value},
    ).rowcount
    conn.execute(text("DROP TABLE undo_targets"))
    return Undone(
        restored=restored,
        reactivated=counts["reactivated"],
        deactivated=created,
        conflicts=counts["conflicts"],
        rows_written=restored + created,
    )


def _counts(conn: Connection, current: str, join: str, params: dict[str, Any] | None = None) -> dict[str, int]:
    row = conn.execute(
        text(
            f"""
            SELECT count(*) FILTER (WHERE u.later IS NULL AND u.before IS NOT NULL AND x.active IS FALSE
                                      AND (u.before ->> 'active')::boolean) AS reactivated,
                   count(*) FILTER (WHERE u.later IS NOT NULL) AS conflicts
              FROM undo_targets u LEFT JOIN {current} ON {join}
            """
        ),
        params or {},
    ).one()
    return {"reactivated": int(row.reactivated), "conflicts": int(row.conflicts)}


def _conflicts(
    conn: Connection, me: uuid.UUID, entity: EntityType, external_id_sql: str, params: dict[str, Any]
) -> None:
    conn.execute(
        text(
            f"""
            INSERT INTO sis_sync_errors (run_id, entity_type, external_id, code, message)
            SELECT CAST(:me AS uuid), CAST(:e AS varchar), {external_id_sql}, 'undo_conflict',
                   'changed again by the later run ' || u.later::text || '; kept as that run left it '
                   || '(undo with force to take it back too)'
              FROM undo_targets u WHERE u.later IS NOT NULL
            """
        ),
        {**params, "me": me, "e": entity.value},
    )


def body(job: Job, conn: Connection) -> StepDone:
    """One entity type of an undo run: its store rows, then its links."""
    data_path_settings(conn)
    provider = job.provider
    entity = EntityType(job.part or "")
    of, me = uuid.UUID(str(provider.run_options.undo_of)), provider.run_id
    force = provider.run_options.force
    store = _undo_store(conn, of, me, entity, force, provider.provider_id)
    links = _undo_links(conn, of, me, entity, force)
    undone = Undone(
        restored=store.restored + links.restored,
        reactivated=store.reactivated,
        deactivated=store.deactivated,
        conflicts=store.conflicts + links.conflicts,
        rows_written=store.rows_written + links.rows_written,
    )
    # a record counts once: its store row (a link-only change counts its link)
    records = max(store.restored + store.deactivated, links.restored + links.deactivated)
    return StepDone(records=records, detail=UndoDetail(entities={entity: undone}))


@dataclass
class Preview:
    """What undoing a run would do now, per entity type, and the rows a later run changed."""

    entities: dict[EntityType, Undone] = field(default_factory=dict)
    conflicts: list[dict[str, str]] = field(default_factory=list)


def check(conn: Connection, run_id: uuid.UUID | str) -> Any:
    """The run, if it can be undone; raises UndoRefused otherwise."""
    row = conn.execute(
        text(
            "SELECT id, provider_id, tenant_id, status, kind, ledger_pruned_at, completed_at FROM sis_sync_runs "
            "WHERE id = :r"
        ),
        {"r": run_id},
    ).first()
    if row is None:
        raise UndoRefused("not-found", "run not found")
    if SyncStatus(row.status) not in UNDOABLE:
        raise UndoRefused(
            "run-not-finished", f"the run is {row.status}: only a finished run can be undone", runStatus=row.status
        )
    if row.ledger_pruned_at is not None:
        raise UndoRefused(
            "undo-unavailable",
            f"undo is no longer available for this run: its change ledger was pruned on "
            f"{row.ledger_pruned_at:%Y-%m-%d} (runs are kept undoable for LEDGER_RETENTION_DAYS after they end)",
        )
    if not ledger.has_changes(conn, row.id):
        raise UndoRefused("nothing-to-undo", "this run applied no changes: there is nothing to undo")
    return row


def preview(conn: Connection, run_id: uuid.UUID | str) -> Preview:
    """The counts an undo would restore now and the conflicts it would report (nothing written)."""
    row = check(conn, run_id)
    out = Preview()
    conn.execute(text("SAVEPOINT undo_preview"))
    for entity in LOAD_ORDER:
        totals = Undone()
        for target in ("entity", "link"):
            _targets(conn, row.id, uuid.UUID(int=0), entity, target, False)
            table, join = (
                (f"{ledger.STORE_TABLES[entity]} x", "x.id = u.key")
                if target == "entity"
                else (
                    "sis_entity_links x",
                    "x.provider_id = u.provider_id AND x.entity_type = :e AND x.external_id = u.key",
                )
            )
            counts = conn.execute(
                text(
                    f"""
                    SELECT count(*) FILTER (WHERE u.later IS NULL AND u.before IS NOT NULL) AS restored,
                           count(*) FILTER (WHERE u.later IS NULL AND u.before IS NOT NULL AND x.active IS FALSE
                                              AND (u.before ->> 'active')::boolean) AS reactivated,
                           count(*) FILTER (WHERE u.later IS NULL AND u.before IS NULL AND x.active) AS deactivated,
                           count(*) FILTER (WHERE u.later IS NOT NULL) AS conflicts
                      FROM undo_targets u LEFT JOIN {table} ON {join}
                    """
                ),
                {"e": entity.value},
            ).one()
            totals.restored += int(counts.restored)
            totals.conflicts += int(counts.conflicts)
            if target == "entity":
                totals.reactivated += int(counts.reactivated)
                totals.deactivated += int(counts.deactivated)
            if len(out.conflicts) < NAMED:
                named = conn.execute(
                    text(
                        "SELECT key::text AS key, later FROM undo_targets WHERE later IS NOT NULL ORDER BY 1 LIMIT :n"
                    ),
                    {"n": NAMED - len(out.conflicts)},
                ).all()
                out.conflicts += [
                    {"entityType": entity.value, "target": target, "key": r.key, "laterRunId": str(r.later)}
                    for r in named
                ]
            conn.execute(text("DROP TABLE undo_targets"))
        out.entities[entity] = totals
    conn.execute(text("ROLLBACK TO SAVEPOINT undo_preview"))
    return out


@dataclass(frozen=True)
class UndoRequest:
    run_id: uuid.UUID
    provider_id: uuid.UUID
    tenant_id: str
    superseded: list[uuid.UUID]


def request(conn: Connection, run_id: uuid.UUID | str, *, by: str, force: bool) -> UndoRequest:
    """Queue an undo run of a finished run; it waits for a slot like any run. Refused (UndoRefused)
    when the run cannot be undone or a run of its provider is pending or in progress."""
    row = check(conn, run_id)
    provider = conn.execute(text("SELECT deleted_at FROM sis_providers WHERE id = :p"), {"p": row.provider_id}).one()
    if provider.deleted_at is not None:
        raise UndoRefused("provider-deleted", "the provider was deleted")
    options = RunOptions(undo_of=str(row.id), force=force)
    new_id = uuid.uuid4()
    created = conn.execute(
        text(
            """
            INSERT INTO sis_sync_runs
                (id, provider_id, tenant_id, status, trigger, is_manual, mode, requested_by, options, kind, phase)
            VALUES (:id, :p, :tenant, 'PENDING', :trigger, true, 'full', :by, CAST(:options AS jsonb), :kind, :phase)
            ON CONFLICT DO NOTHING
            RETURNING id
            """
        ),
        {
            "id": new_id,
            "p": row.provider_id,
            "tenant": row.tenant_id,
            "trigger": SyncTrigger.MANUAL.value,
            "by": by,
            "options": json.dumps(options.to_json()),
            "kind": RunKind.UNDO.value,
            "phase": START,
        },
    ).first()
    if created is None:
        active = conn.execute(
            text("SELECT id FROM sis_sync_runs WHERE provider_id = :p AND status IN ('PENDING', 'IN_PROGRESS')"),
            {"p": row.provider_id},
        ).scalar()
        raise UndoRefused("sync-already-running", "a run of this provider is pending or in progress", runId=str(active))
    # the steps it will take, so the run shows them from the start
    steps.create(
        conn,
        new_id,
        [(Phase.UNDO.step(e.value), None) for e in LOAD_ORDER] + [(Phase.FINALIZE.step(), None)],
    )
    # a held plan was made against the store this undo changes
    superseded = held.supersede(conn, row.provider_id, new_id)
    return UndoRequest(new_id, row.provider_id, row.tenant_id, superseded)


def undone_by(conn: Connection, run_id: uuid.UUID | str) -> list[uuid.UUID]:
    """The undo runs of a run (its history links to them)."""
    rows = conn.execute(
        text(
            "SELECT id FROM sis_sync_runs WHERE kind = 'undo' AND provider_id = "
            "(SELECT provider_id FROM sis_sync_runs WHERE id = :r) AND options ->> 'undoOf' = :s ORDER BY requested_at"
        ),
        {"r": run_id, "s": str(run_id)},
    ).all()
    return [r.id for r in rows]


def finish(job: Job, conn: Connection) -> StepDone:
    """Finalize of an undo run: its stats from the UNDO steps, its status, its audit entry. No
    bookmark moves: the source was not read. Its source names no package, so the next sync reads
    the package again (libs/etl/unchanged.py)."""
    from libs import audit
    from libs.etl.details import EntityStats, FinalizeDetail, RunStats
    from libs.etl.finalize import timings

    provider = job.provider
    rows = {row["step"]: row for row in steps.all_details(conn, provider.run_id)}
    stats = RunStats()
    conflicts = 0
    for entity in LOAD_ORDER:
        detail = UndoDetail.model_validate((rows.get(Phase.UNDO.step(entity.value)) or {}).get("detail") or {})
        undone = detail.entities.get(entity) or Undone()
        conflicts += undone.conflicts
        stats.rows_written += undone.rows_written
        setattr(
            stats,
            entity.plural,
            EntityStats(
                updated=undone.restored - undone.reactivated,
                reactivated=undone.reactivated,
                deactivated=undone.deactivated,
                errors=undone.conflicts,
            ),
        )
    status, message = SyncStatus.SUCCESS, None
    if conflicts:
        status = SyncStatus.PARTIAL
        message = f"{conflicts:,} row(s) changed by a later run were kept; see the run's errors (undo_conflict)"
    source = {"undoOf": provider.run_options.undo_of, "force": provider.run_options.force}
    conn.execute(
        text(
            "UPDATE sis_sync_runs SET stats = CAST(:stats AS jsonb), timings = CAST(:timings AS jsonb), "
            "source = CAST(:source AS jsonb) WHERE id = :r"
        ),
        {
            "r": provider.run_id,
            "stats": json.dumps(stats.to_json()),
            "timings": json.dumps(timings(conn, provider.run_id, rows)),
            "source": json.dumps(source),
        },
    )
    audit.record(
        conn,
        action="sync.undone",
        actor="sis-sync",
        target_type="sis_sync_run",
        target_id=provider.run_id,
        tenant_id=provider.tenant_id,
        details={"status": status.value, "undoOf": provider.run_options.undo_of},
    )
    return StepDone(detail=FinalizeDetail(status=status.value), status=status, message=message)
