"""Load: apply one entity type's plan to the roster store, in one fenced transaction.

Only planned rows (action set) are read, so unchanged records cost a join in stage and nothing
here: a no-change re-sync writes no store row. MERGE rather than INSERT ... ON CONFLICT: the
latter locks (and WAL-logs) every conflicting row even when it changes nothing, and a merge
from a pre-filtered source plans as one hash join.

Links are written first, then entities resolve their references (a class's school, an
enrollment's class and user) through links, which by then cover this run's new rows too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text

from libs.db.models.staging import STAGING_TABLES
from libs.enums import EntityType
from libs.etl import ledger, runs
from libs.etl.details import Applied, LoadDetail
from libs.etl.phase import Job, StepDone
from libs.etl.sql import analyze, data_path_settings
from libs.etl.stage import Scope, replan_user_creates

_PLANNED = "t.run_id = :r AND t.status IS NULL AND t.action IS NOT NULL"


def _link(entity: str, column: str, alias: str) -> str:
    return (
        f"LEFT JOIN sis_entity_links {alias} ON {alias}.provider_id = :p AND {alias}.entity_type = '{entity}' "
        f"AND {alias}.external_id = t.{column}"
    )


def _id_array(entity: str, column: str) -> str:
    """The entity ids of a list of external ids, in the list's order (unknown ids dropped)."""
    return (
        f"ARRAY(SELECT x.entity_id FROM unnest(t.{column}) WITH ORDINALITY AS u(ext, i) "
        f"JOIN sis_entity_links x ON x.provider_id = :p AND x.entity_type = '{entity}' AND x.external_id = u.ext "
        "ORDER BY u.i)"
    )


# entity -> (target table, source SELECT list and joins, columns written)
_SOURCES: dict[EntityType, tuple[str, str, tuple[str, ...]]] = {
    EntityType.SCHOOL: (
        "schools",
        "t.name, t.school_number, t.state_id, t.nces_id, t.low_grade, t.high_grade FROM sis_raw_schools t",
        ("name", "school_number", "state_id", "nces_id", "low_grade", "high_grade"),
    ),
    EntityType.TERM: (
        "terms",
        "t.name, t.type, t.start_date, t.end_date, lp.entity_id AS parent_id, t.school_year "
        f"FROM sis_raw_terms t {_link('term', 'parent_external_id', 'lp')}",
        ("name", "type", "start_date", "end_date", "parent_id", "school_year"),
    ),
    EntityType.CLASS: (
        "classes",
        "ls.entity_id AS school_id, t.title, t.class_code, t.course_code, t.course_title, "
        f"{_id_array('term', 'term_external_ids')} AS term_ids, "
        "coalesce(t.subjects, '{}') AS subjects, coalesce(t.grades, '{}') AS grades, "
        "coalesce(t.periods, '{}') AS periods, t.location "
        f"FROM sis_raw_classes t {_link('school', 'school_external_id', 'ls')}",
        (
            "school_id",
            "title",
            "class_code",
            "course_code",
            "course_title",
            "term_ids",
            "subjects",
            "grades",
            "periods",
            "location",
        ),
    ),
    EntityType.USER: (
        "users",
        "t.role, t.given_name, t.middle_name, t.family_name, t.email, t.username, t.sis_id, t.student_number, "
        "t.state_id, coalesce(t.grades, '{}') AS grades, "
        f"{_id_array('school', 'school_external_ids')} AS school_ids, "
        "lp.entity_id AS primary_school_id, coalesce(t.enabled, true) AS enabled "
        f"FROM sis_raw_users t {_link('school', 'primary_school_external_id', 'lp')}",
        (
            "role",
            "given_name",
            "middle_name",
            "family_name",
            "email",
            "username",
            "sis_id",
            "student_number",
            "state_id",
            "grades",
            "school_ids",
            "primary_school_id",
            "enabled",
        ),
    ),
    EntityType.ENROLLMENT: (
        "enrollments",
        "lc.entity_id AS class_id, lu.entity_id AS user_id, ls.entity_id AS school_id, t.role, "
        "coalesce(t.is_primary, false) AS is_primary, t.begin_date, t.end_date "
        f"FROM sis_raw_enrollments t {_link('class', 'class_external_id', 'lc')} "
        f"{_link('user', 'user_external_id', 'lu')} {_link('school', 'school_external_id', 'ls')}",
        ("class_id", "user_id", "school_id", "role", "is_primary", "begin_date", "end_date"),
    ),
}


def body(job: Job, conn: Connection) -> StepDone:
    data_path_settings(conn)
    provider = job.provider
    assert job.part is not None, "load runs once per entity type"
    entity = EntityType(job.part)
    params = {"r": provider.run_id, "p": provider.provider_id, "tenant": provider.tenant_id}
    rejected = 0
    if entity is EntityType.USER:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:tenant))"),
            {"ns": runs.TENANT_USERS_LOCK, "tenant": provider.tenant_id},
        )
        scope = Scope(provider.run_id, provider.provider_id, provider.tenant_id)
        rejected = replan_user_creates(conn, scope, provider.options)
    applied = apply(conn, entity, params, lambda raw: analyze(job.ctx, raw, "sis_entity_links"))
    applied.rejected = rejected
    # the step counts records (a record's link and store rows are one), as every step does
    return StepDone(records=applied.applied, detail=LoadDetail(entities={entity: applied}))


def apply(conn: Connection, entity: EntityType, params: dict[str, Any], refresh: Callable[[str], None]) -> Applied:
    """Write the planned rows of one entity type; returns what was applied."""
    raw = STAGING_TABLES[entity].name
    counts = conn.execute(
        text(
            f"""
            SELECT count(*) FILTER (WHERE action = 'create') AS created,
                   count(*) FILTER (WHERE action = 'update') AS updated,
                   count(*) FILTER (WHERE action = 'reactivate') AS reactivated,
                   count(*) FILTER (WHERE action = 'link' AND matched_by = 'email') AS matched_by_email,
                   count(*) FILTER (WHERE action = 'link' AND matched_by = 'student_number')
                       AS matched_by_student_number,
                   count(*) FILTER (WHERE action = 'link' AND matched_by NOT IN ('email', 'student_number'))
                       AS matched_other
              FROM {raw} t WHERE {_PLANNED}
            """
        ),
        params,
    ).one()
    applied = Applied.model_validate(dict(counts._mapping))
    if not any(counts):
        return applied
    # Statistics as of now: links grew by the previous load step, and stage has just written the
    # actions this statement selects on. Planned against stale numbers ("no rows have an
    # action"), the merge becomes a nested loop over a district: minutes instead of seconds.
    refresh(raw)
    # the before-images, in this transaction: a MERGE returns nothing in Postgres 15
    ledger.record_links(conn, entity, f"SELECT t.external_id FROM {raw} t WHERE {_PLANNED}", params)
    links = conn.execute(
        text(
            f"""
            MERGE INTO sis_entity_links l
            USING (SELECT t.external_id, t.entity_id, t.row_hash FROM {raw} t WHERE {_PLANNED}) s
               ON l.provider_id = :p AND l.entity_type = :entity AND l.external_id = s.external_id
            WHEN MATCHED THEN UPDATE
                 SET entity_id = s.entity_id, row_hash = s.row_hash, active = true, deactivated_at = NULL,
                     last_changed_run_id = :r, updated_at = now()
            WHEN NOT MATCHED THEN INSERT
                 (provider_id, entity_type, external_id, entity_id, active, row_hash, first_seen_run_id,
                  last_changed_run_id)
                 VALUES (:p, :entity, s.external_id, s.entity_id, true, s.row_hash, :r, :r)
            """
        ),
        {**params, "entity": entity.value},
    ).rowcount
    target, source, columns = _SOURCES[entity]
    select_list, _, from_clause = source.partition(" FROM ")
    updates = ", ".join(f"{c} = s.{c}" for c in columns)
    ledger.record_entities(conn, entity, f"SELECT t.entity_id AS id FROM {raw} t WHERE {_PLANNED}", params)
    entities = conn.execute(
        text(
            f"""
            MERGE INTO {target} e
            USING (SELECT t.entity_id AS id, {select_list} FROM {from_clause} WHERE {_PLANNED}) s
               ON e.id = s.id
            WHEN MATCHED THEN UPDATE
                 SET {updates}, active = true, deactivated_at = NULL, updated_at = now()
            WHEN NOT MATCHED THEN INSERT (id, tenant_id, {", ".join(columns)})
                 VALUES (s.id, :tenant, {", ".join("s." + c for c in columns)})
            """
        ),
        params,
    ).rowcount
    applied.rows_written = int(links) + int(entities)
    return applied
