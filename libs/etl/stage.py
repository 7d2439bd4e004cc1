"""Stage: validate, deduplicate and match a run's staging rows, and write the plan onto them.

All set-based SQL over one run's rows, one transaction. Afterwards every staging row says
what load will do with it:

    status  NULL = valid; 'invalid' | 'duplicate' | 'ambiguous' | 'unmatched' = not applied
    action  'create' | 'update' | 'reactivate' | 'link' (matched an existing user or school);
            NULL on a valid row means unchanged, so a no-change re-sync plans no writes at all
    entity_id  the roster entity the row applies to

Problems become rows of `sis_sync_errors` with the file and line (or page) the row came from.

Unless the provider says `requireApproval: never`, the deactivations are planned here too and
the guards judged on the plan; a plan that trips one (or a preview, or `always`) is kept in the
logged `sis_held_*` tables and the run stops HELD before anything is written (libs/etl/held.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, text

from libs.connectors.base import FeedMode
from libs.connectors.records import ENROLLMENT_ROLES, USER_ROLES
from libs.db.models.staging import STAGING_TABLES
from libs.enums import LOAD_ORDER, EntityType, ProviderType
from libs.etl import deactivate, feeds, held, steps
from libs.etl.details import ExtractDetail, Planned, StageDetail
from libs.etl.options import ProviderOptions
from libs.etl.phase import Job, Phase, StepDone
from libs.etl.providers import RunProvider
from libs.etl.sql import analyze, data_path_settings

log = logging.getLogger(__name__)

# The canonical fields a record is not applied without (../shared/guide/canonical-model.md and
# the sources' specs). Connectors pass a blank value on as null and refuse only a value they
# cannot read, so a missing value is refused here alone, in the same words for every source.
REQUIRED: dict[EntityType, tuple[str, ...]] = {
    EntityType.SCHOOL: ("name",),
    EntityType.TERM: ("name", "type", "start_date", "end_date"),
    EntityType.CLASS: ("title", "school_external_id"),
    EntityType.USER: ("role", "given_name", "family_name"),
    EntityType.ENROLLMENT: ("class_external_id", "user_external_id", "role"),
}
# fields a source does not have: Clever terms carry no type
NOT_SUPPLIED: dict[ProviderType, dict[EntityType, tuple[str, ...]]] = {
    ProviderType.CLEVER: {EntityType.TERM: ("type",)},
}

# Insert the rows an UPDATE just rejected (exposed by its RETURNING as `bad`) as errors.
_ERRORS_FROM = """
INSERT INTO sis_sync_errors (run_id, entity_type, external_id, source, line, field, code, message)
SELECT :r, :entity, bad.external_id,
       nullif(regexp_replace(bad.source_ref, ':[0-9]+$', ''), ''),
       (regexp_match(bad.source_ref, ':([0-9]+)$'))[1]::int,
       bad.field, bad.code, bad.error
  FROM bad
"""


@dataclass(frozen=True)
class Scope:
    run_id: uuid.UUID
    provider_id: uuid.UUID
    tenant_id: str

    def params(self, entity: EntityType, **more: Any) -> dict[str, Any]:
        return {"r": self.run_id, "p": self.provider_id, "tenant": self.tenant_id, "entity": entity.value, **more}


def body(job: Job, conn: Connection) -> StepDone:
    data_path_settings(conn)
    provider = job.provider
    run_feeds = feeds.collect(conn, provider.run_id)
    scope = Scope(provider.run_id, provider.provider_id, provider.tenant_id)
    # Fresh statistics before every set-based statement: staging and links grow by a district
    # per run, and a plan made for an "empty" table (nested loops over seq scans) is quadratic.
    read = [entity for entity in LOAD_ORDER if run_feeds[entity].mode is not FeedMode.UNCHANGED]
    if read:
        analyze(job.ctx, "sis_entity_links", *(STAGING_TABLES[entity].name for entity in read))
    not_supplied = NOT_SUPPLIED.get(provider.provider_type, {})
    unstaged = _unstaged_errors(conn, scope)
    planned = {}
    for entity in LOAD_ORDER:
        feed = run_feeds[entity]
        if feed.mode is FeedMode.UNCHANGED:
            # the package the provider's last run applied: nothing staged, all of it unchanged
            planned[entity] = Planned(received=feed.extracted, unchanged=feed.extracted)
            continue
        required = tuple(f for f in REQUIRED[entity] if f not in not_supplied.get(entity, ()))
        count = stage_entity(conn, scope, entity, run_feeds, provider.options, required)
        # record errors without an id were never staged; they were received and rejected all the same
        count.received += unstaged.get(entity, 0)
        count.rejected += unstaged.get(entity, 0)
        planned[entity] = count
    if provider.options.require_approval == "never" and not provider.run_options.preview:
        # today's behaviour: deactivate judges its guards when it gets there, nothing is kept
        return StepDone(records=sum(p.received for p in planned.values()), detail=StageDetail(entities=planned))
    # the deactivations are part of the plan, and the guards are judged on it before anything is written
    params = {"r": provider.run_id, "p": provider.provider_id}
    allow_mass = provider.run_options.allow_mass_deactivation
    verdicts = {
        entity: deactivate.judge(conn, entity, run_feeds[entity], provider.options, allow_mass, params)
        for entity in reversed(LOAD_ORDER)
    }
    for entity, verdict in verdicts.items():
        planned[entity].deactivate = verdict.count
    reasons = _hold_reasons(provider, [v.held for v in verdicts.values() if v.held])
    if reasons:
        # the data path commits asynchronously (a crash loses only what a re-run rebuilds); a
        # held plan is the admin's to decide on, so this commit waits for the WAL like any other
        conn.execute(text("SET LOCAL synchronous_commit = on"))
        for entity, verdict in verdicts.items():
            held.keep(conn, provider.run_id, entity)
            if verdict.condition is not None:
                held.keep_deactivations(conn, provider.run_id, entity, verdict.condition, verdict.params)
    return StepDone(
        records=sum(p.received for p in planned.values()),
        detail=StageDetail(entities=planned, hold=reasons),
        hold=reasons,
    )


def _hold_reasons(provider: RunProvider, guards: list[str]) -> list[str]:
    """Why the run stops for review after stage; empty: it goes on."""
    if provider.run_options.preview:
        return ["a preview was requested", *guards]
    if provider.options.require_approval == "always":
        return ["the provider requires approval of every sync (requireApproval: always)", *guards]
    return guards


def _unstaged_errors(conn: Connection, scope: Scope) -> dict[EntityType, int]:
    total: dict[EntityType, int] = {}
    for row in steps.parts(conn, scope.run_id, Phase.EXTRACT.value):
        for entity, n in ExtractDetail.model_validate(row["detail"] or {}).unstaged.items():
            total[entity] = total.get(entity, 0) + n
    return total


def stage_entity(
    conn: Connection,
    scope: Scope,
    entity: EntityType,
    run_feeds: dict[EntityType, feeds.Feed],
    options: ProviderOptions,
    required: tuple[str, ...],
) -> Planned:
    table = STAGING_TABLES[entity].name
    _reject_missing_ids(conn, scope, entity, table)
    _reject_duplicates(conn, scope, entity, table)
    _reject_invalid(conn, scope, entity, table, _rules(entity, run_feeds, required))
    if entity is EntityType.USER:
        _plan_linked(conn, scope, entity, table, create=False)
        _match_users(conn, scope, table, by="email")
        _match_users(conn, scope, table, by="student_number")
        _plan_creates(conn, scope, entity, table, allowed=options.create_users)
    elif entity is EntityType.SCHOOL and options.match_schools_by:
        _plan_linked(conn, scope, entity, table, create=False)
        _match_schools(conn, scope, table, options.match_schools_by)
        _plan_creates(conn, scope, entity, table, allowed=True)
    else:
        _plan_linked(conn, scope, entity, table, create=True)
    return _count(conn, scope, table)


def replan_user_creates(conn: Connection, scope: Scope, options: ProviderOptions) -> int:
    """Match again the users this run planned to create, under the tenant's lock; returns how many
    it rejected (now ambiguous).

    Two providers of one tenant staging at the same time would each plan to create the same
    person; the load of users holds a per-tenant lock and calls this first, so the second load
    links to the user the first one created instead of creating a duplicate.
    """
    table = STAGING_TABLES[EntityType.USER].name
    conn.execute(
        text(
            f"UPDATE {table} SET action = NULL, entity_id = NULL, matched_by = NULL "
            "WHERE run_id = :r AND status IS NULL AND action = 'create'"
        ),
        {"r": scope.run_id},
    )
    return (
        _match_users(conn, scope, table, by="email")
        + _match_users(conn, scope, table, by="student_number")
        + _plan_creates(conn, scope, EntityType.USER, table, allowed=options.create_users)
    )


def _reject_missing_ids(conn: Connection, scope: Scope, entity: EntityType, table: str) -> None:
    conn.execute(
        text(
            f"""
            WITH bad AS (
                UPDATE {table} t SET status = 'invalid', error = 'the record has no id'
                 WHERE t.run_id = :r AND t.status IS NULL AND coalesce(t.external_id, '') = ''
                RETURNING t.external_id, t.source_ref, t.error, 'missing_id'::text AS code, 'id'::text AS field
            ) {_ERRORS_FROM}
            """
        ),
        scope.params(entity),
    )


def _reject_duplicates(conn: Connection, scope: Scope, entity: EntityType, table: str) -> None:
    # The first valid occurrence (by position in the feed) is kept; every later one is reported.
    conn.execute(
        text(
            f"""
            WITH dup_ids AS (
                SELECT external_id FROM {table}
                 WHERE run_id = :r AND external_id IS NOT NULL AND external_id <> ''
                 GROUP BY external_id HAVING count(*) > 1
            ), ranked AS (
                SELECT s.seq, s.external_id,
                       row_number() OVER w AS rn, first_value(s.source_ref) OVER w AS kept_at
                  FROM {table} s JOIN dup_ids USING (external_id)
                 WHERE s.run_id = :r
                WINDOW w AS (PARTITION BY s.external_id ORDER BY (s.status IS NOT NULL), s.seq)
            ), bad AS (
                UPDATE {table} t
                   SET status = 'duplicate',
                       error = 'duplicate id ' || t.external_id
                               || coalesce(' (the row at ' || ranked.kept_at || ' is used)', '')
                  FROM ranked
                 WHERE t.run_id = :r AND t.external_id = ranked.external_id AND t.seq = ranked.seq
                   AND ranked.rn > 1 AND (t.status IS NULL OR t.status = 'invalid')
                RETURNING t.external_id, t.source_ref, t.error, 'duplicate_id'::text AS code, 'id'::text AS field
            ) {_ERRORS_FROM}
            """
        ),
        scope.params(entity),
    )


def _known(entity: EntityType, run_feeds: dict[EntityType, feeds.Feed], column: str) -> str:
    """SQL: the referenced id in `column` is valid in this run's feed, or already known.

    A complete full feed is the truth for its type, so only its own rows count; otherwise (a
    delta, an absent file, an incomplete extract) existing active links count too.
    """
    staged = (
        f"{column} IN (SELECT k.external_id FROM {STAGING_TABLES[entity].name} k "
        "WHERE k.run_id = :r AND k.status IS NULL AND NOT k.tombstone AND k.external_id IS NOT NULL)"
    )
    feed = run_feeds[entity]
    if feed.mode is FeedMode.FULL and feed.complete:
        return staged
    linked = (
        f"{column} IN (SELECT l.external_id FROM sis_entity_links l "
        f"WHERE l.provider_id = :p AND l.entity_type = '{entity.value}' AND l.active)"
    )
    return f"({staged} OR {linked})"


def _rules(
    entity: EntityType, run_feeds: dict[EntityType, feeds.Feed], required: tuple[str, ...]
) -> list[tuple[str, str, str, str]]:
    """(condition, code, field, message SQL) in priority order; the first that holds rejects the row."""
    columns = STAGING_TABLES[entity].columns

    def blank(column: str) -> tuple[str, str, str, str]:
        # a value of spaces only is as missing as none (a text column; dates are null or a date)
        empty = f"btrim(t.{column}) = ''" if isinstance(columns[column].type, Text) else "false"
        return (f"(t.{column} IS NULL OR {empty})", "missing_value", column, f"'{column} is required'")

    def one_of(column: str, allowed: tuple[str, ...]) -> tuple[str, str, str, str]:
        values = ", ".join(f"'{v}'" for v in allowed)
        return (
            f"t.{column} NOT IN ({values})",
            "invalid_value",
            column,
            f"'{column} ' || quote_literal(t.{column}) || ' is not one of {', '.join(allowed)}'",
        )

    def reference(column: str, target: EntityType) -> tuple[str, str, str, str]:
        # the message says why the id is unknown when the feed itself explains it: an admin
        # fixes "refers to a class this feed deletes" differently from a missing class
        staged = f"FROM {STAGING_TABLES[target].name} k WHERE k.run_id = :r AND k.external_id = t.{column}"
        said = f"'{column} ' || quote_literal(t.{column}) || ' refers to"
        message = (
            f"CASE WHEN EXISTS (SELECT 1 {staged} AND k.tombstone) THEN {said} a {target.value} this feed deletes'"
            f" WHEN EXISTS (SELECT 1 {staged} AND k.status IS NOT NULL)"
            f" THEN {said} a {target.value} that was rejected (see that row''s error)'"
            f" ELSE {said} no {target.value} of this feed' END"
        )
        return (f"NOT {_known(target, run_feeds, 't.' + column)}", "orphan_reference", column, message)

    missing = [blank(column) for column in required]
    if entity is EntityType.SCHOOL:
        return missing
    if entity is EntityType.TERM:
        return [*missing, ("t.start_date > t.end_date", "invalid_value", "end_date", "'end_date is before start_date'")]
    if entity is EntityType.CLASS:
        return [*missing, reference("school_external_id", EntityType.SCHOOL)]
    if entity is EntityType.USER:
        return [*missing, one_of("role", USER_ROLES)]
    return [
        *missing,
        one_of("role", ENROLLMENT_ROLES),
        reference("class_external_id", EntityType.CLASS),
        reference("user_external_id", EntityType.USER),
    ]


def _reject_invalid(
    conn: Connection, scope: Scope, entity: EntityType, table: str, rules: list[tuple[str, str, str, str]]
) -> None:
    # which rule fails first, computed once per row; code, field and message follow from it
    which = " ".join(f"WHEN {cond} THEN {i}" for i, (cond, _, _, _) in enumerate(rules))
    code = " ".join(f"WHEN {i} THEN '{c}'" for i, (_, c, _, _) in enumerate(rules))
    field = " ".join(f"WHEN {i} THEN '{f}'" for i, (_, _, f, _) in enumerate(rules))
    message = " ".join(f"WHEN {i} THEN {m}" for i, (_, _, _, m) in enumerate(rules))
    conn.execute(
        text(
            f"""
            WITH checked AS (
                SELECT t.seq, t.external_id, CASE {which} END AS rule
                  FROM {table} t
                 WHERE t.run_id = :r AND t.status IS NULL AND NOT t.tombstone
            ), bad AS (
                UPDATE {table} t SET status = 'invalid', error = CASE c.rule {message} END
                  FROM checked c
                 WHERE c.rule IS NOT NULL AND t.run_id = :r AND t.external_id = c.external_id AND t.seq = c.seq
                RETURNING t.external_id, t.source_ref, t.error, CASE c.rule {code} END AS code,
                          CASE c.rule {field} END AS field
            ) {_ERRORS_FROM}
            """
        ),
        scope.params(entity),
    )


def _plan_linked(conn: Connection, scope: Scope, entity: EntityType, table: str, *, create: bool) -> None:
    """One join of the run's rows with their links plans every row that has one: update when the
    content hash moved, reactivate an inactive link. With `create`, rows without a link are planned
    as new entities in the same pass (users are matched first instead, see `_match_users`)."""
    missing = "l.external_id IS NULL OR " if create else ""
    # MATERIALIZED: the join with the links runs first, as one hash join, and the UPDATE then
    # joins only the rows that changed. Inlined, the planner joins staging with itself first,
    # misjudges that as one row and probes the links' index once per row (4x slower on a
    # no-change re-sync of half a million enrollments).
    conn.execute(
        text(
            f"""
            WITH planned AS MATERIALIZED (
                SELECT t.seq, t.external_id, l.entity_id, l.active, l.external_id IS NULL AS unlinked
                  FROM {table} t
                  LEFT JOIN sis_entity_links l
                    ON l.provider_id = :p AND l.entity_type = :entity AND l.external_id = t.external_id
                 WHERE t.run_id = :r AND t.status IS NULL AND NOT t.tombstone AND t.action IS NULL
                   AND ({missing}NOT l.active OR l.row_hash IS DISTINCT FROM t.row_hash)
                   {"" if create else "AND l.external_id IS NOT NULL"}
            )
            UPDATE {table} t
               SET action = CASE WHEN p.unlinked THEN 'create' WHEN p.active THEN 'update' ELSE 'reactivate' END,
                   entity_id = CASE WHEN p.unlinked THEN gen_random_uuid() ELSE p.entity_id END,
                   matched_by = CASE WHEN p.unlinked THEN 'new' ELSE 'link' END
              FROM planned p
             WHERE t.run_id = :r AND t.external_id = p.external_id AND t.seq = p.seq
            """
        ),
        scope.params(entity),
    )


_UNLINKED = """
    t.run_id = :r AND t.status IS NULL AND NOT t.tombstone AND t.action IS NULL
    AND NOT EXISTS (SELECT 1 FROM sis_entity_links l
                     WHERE l.provider_id = :p AND l.entity_type = :entity AND l.external_id = t.external_id)
"""


def _match_users(conn: Connection, scope: Scope, table: str, *, by: str) -> int:
    """Link unlinked users to existing tenant users with the same email (or student number).

    Exactly one candidate links. Several candidates, or several records of this feed pointing at
    the same user, is an error on those records: matching never merges two people. A user that
    is linked to another record of this very feed is not a candidate. Returns the rows rejected.
    """
    if by == "email":
        key, candidate_key, extra, candidate_extra = "lower(t.email)", "lower(x.email)", "", ""
        label, what = "email", "email"
    else:
        key, candidate_key = "t.student_number", "x.student_number"
        extra, candidate_extra = "AND t.role = 'student'", "AND x.role = 'student'"
        label, what = "student_number", "student number"
    return conn.execute(
        text(
            f"""
            WITH unlinked AS MATERIALIZED (
                -- the few rows without a link first: a re-sync must not join every user by email
                SELECT t.seq, t.external_id, t.email, t.student_number, t.role FROM {table} t
                 WHERE {_UNLINKED} AND coalesce({key}, '') <> '' {extra}
            ), cand AS (
                SELECT t.seq, t.external_id, x.id AS user_id
                  FROM unlinked t
                  JOIN users x ON x.tenant_id = :tenant AND {candidate_key} = {key} {candidate_extra}
                 WHERE NOT EXISTS (
                        SELECT 1 FROM sis_entity_links ol
                          JOIN {table} s ON s.run_id = :r AND s.external_id = ol.external_id AND NOT s.tombstone
                         WHERE ol.provider_id = :p AND ol.entity_type = 'user' AND ol.entity_id = x.id)
            ), per_row AS (
                SELECT seq, external_id, count(*) AS n, (array_agg(user_id))[1] AS user_id
                  FROM cand GROUP BY seq, external_id
            ), per_user AS (
                SELECT user_id, count(*) AS n FROM per_row WHERE n = 1 GROUP BY user_id
            ), decided AS (
                SELECT p.seq, p.external_id, p.user_id, (p.n = 1 AND u.n = 1) AS ok, p.n AS candidates
                  FROM per_row p LEFT JOIN per_user u ON u.user_id = p.user_id
            ), bad AS (
                UPDATE {table} t
                   SET action = CASE WHEN d.ok THEN 'link' END,
                       entity_id = CASE WHEN d.ok THEN d.user_id END,
                       matched_by = CASE WHEN d.ok THEN '{label}' END,
                       status = CASE WHEN d.ok THEN NULL ELSE 'ambiguous' END,
                       error = CASE WHEN d.ok THEN NULL
                                    WHEN d.candidates > 1 THEN
                                        'ambiguous match: ' || d.candidates || ' users have this {what}'
                                    ELSE 'ambiguous match: another record of this feed has the same {what}' END
                  FROM decided d
                 WHERE t.run_id = :r AND t.external_id = d.external_id AND t.seq = d.seq
                RETURNING t.external_id, t.source_ref, t.error, t.status, 'ambiguous_match'::text AS code,
                          '{label}'::text AS field
            ) {_ERRORS_FROM} WHERE bad.status = 'ambiguous'
            """
        ),
        scope.params(EntityType.USER),
    ).rowcount


def _match_schools(conn: Connection, scope: Scope, table: str, fields: Sequence[str]) -> None:
    """Opt-in: a second provider's schools join the tenant's existing schools by number or state id."""
    for field in fields:
        if field not in ("school_number", "state_id"):
            continue
        conn.execute(
            text(
                f"""
                WITH cand AS (
                    SELECT t.seq, t.external_id, count(*) AS n, (array_agg(x.id))[1] AS school_id
                      FROM {table} t JOIN schools x ON x.tenant_id = :tenant AND x.{field} = t.{field}
                     WHERE {_UNLINKED} AND coalesce(t.{field}, '') <> ''
                       AND NOT EXISTS (SELECT 1 FROM sis_entity_links ol
                                        WHERE ol.provider_id = :p AND ol.entity_type = 'school'
                                          AND ol.entity_id = x.id AND ol.active)
                     GROUP BY t.seq, t.external_id
                )
                UPDATE {table} t SET action = 'link', entity_id = c.school_id, matched_by = '{field}'
                  FROM cand c
                 WHERE c.n = 1 AND t.run_id = :r AND t.external_id = c.external_id AND t.seq = c.seq
                """
            ),
            scope.params(EntityType.SCHOOL),
        )


def _plan_creates(conn: Connection, scope: Scope, entity: EntityType, table: str, *, allowed: bool) -> int:
    """Plan the unlinked rows as new entities, or reject them; returns the rows rejected."""
    if allowed:
        conn.execute(
            text(
                f"UPDATE {table} t SET action = 'create', entity_id = gen_random_uuid(), matched_by = 'new' "
                f"WHERE {_UNLINKED}"
            ),
            scope.params(entity),
        )
        return 0
    return conn.execute(
        text(
            f"""
            WITH bad AS (
                UPDATE {table} t SET status = 'unmatched',
                       error = 'no existing user matches and creating users is turned off (createUsers)'
                 WHERE {_UNLINKED}
                RETURNING t.external_id, t.source_ref, t.error, 'unmatched'::text AS code, NULL::text AS field
            ) {_ERRORS_FROM}
            """
        ),
        scope.params(entity),
    ).rowcount


def _count(conn: Connection, scope: Scope, table: str) -> Planned:
    row = conn.execute(
        text(
            f"""
            SELECT count(*) FILTER (WHERE NOT tombstone) AS received,
                   count(*) FILTER (WHERE tombstone) AS tombstones,
                   count(*) FILTER (WHERE status IS NULL AND NOT tombstone AND action IS NULL) AS unchanged,
                   count(*) FILTER (WHERE status IS NULL AND action = 'create') AS create,
                   count(*) FILTER (WHERE status IS NULL AND action = 'update') AS update,
                   count(*) FILTER (WHERE status IS NULL AND action = 'reactivate') AS reactivate,
                   count(*) FILTER (WHERE status IS NULL AND matched_by = 'email') AS matched_by_email,
                   count(*) FILTER (WHERE status IS NULL AND matched_by = 'student_number')
                       AS matched_by_student_number,
                   count(*) FILTER (WHERE status IS NULL AND action = 'link') AS link,
                   count(*) FILTER (WHERE status IS NOT NULL AND NOT tombstone) AS rejected
              FROM {table} WHERE run_id = :r
            """
        ),
        {"r": scope.run_id},
    ).one()
    return Planned.model_validate(dict(row._mapping))
