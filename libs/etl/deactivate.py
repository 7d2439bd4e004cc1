"""Deactivate: soft-delete what left the SIS, unless the feed cannot be trusted to say so.

Per entity type, in one fenced transaction:

* a full feed deactivates this provider's active links whose ids the run did not receive
  (a row rejected as invalid still counts as received: a bad date is not a departure);
* a delta feed deactivates the ids it marks as deleted (tombstones), and for enrollments of
  classes it lists completely, the ones it no longer lists;
* an absent feed deactivates nothing, nor does an unchanged one (libs/etl/unchanged.py).

Held back, with a message on the run (which then ends PARTIAL): an incomplete extract; an empty
feed while links are active ("everyone left" is a broken export, not news); and a share of
deactivations above the provider's threshold (unless the run was asked to allow it). Nothing is
lost: held-back links stay active and the next good feed decides. With `requireApproval`
onGuard or always, stage judges the same guards on the plan first (`judge`) and the run holds
before anything is written (libs/etl/held.py); an approved run then applies exactly its kept
deactivations.

An entity is deactivated only when no active link of any provider points at it any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from libs.connectors.base import FeedMode
from libs.db.models.staging import STAGING_TABLES
from libs.enums import LOAD_ORDER, EntityType
from libs.etl import feeds, held, ledger
from libs.etl.details import Deactivated, DeactivateDetail, HeldBack
from libs.etl.options import ProviderOptions
from libs.etl.phase import Job, StepDone
from libs.etl.sql import data_path_settings

ENTITY_TABLES = {
    EntityType.SCHOOL: "schools",
    EntityType.TERM: "terms",
    EntityType.CLASS: "classes",
    EntityType.USER: "users",
    EntityType.ENROLLMENT: "enrollments",
}


@dataclass(frozen=True)
class _Outcome:
    deactivated: int = 0
    # store rows left without an active link
    entities: int = 0
    held: str | None = None


def body(job: Job, conn: Connection) -> StepDone:
    data_path_settings(conn)
    provider = job.provider
    run_feeds = feeds.collect(conn, provider.run_id)
    params = {"r": provider.run_id, "p": provider.provider_id}
    # an approved run applies the deactivations its admin reviewed, no guard asked again
    approved = provider.run_options.approved_by is not None
    detail = DeactivateDetail()
    # children first, so a held-back class keeps its enrollments company
    for entity in reversed(LOAD_ORDER):
        feed = run_feeds[entity]
        if approved:
            outcome = _apply_planned(conn, entity, feed, params)
        else:
            outcome = _deactivate_entity(
                conn, entity, feed, provider.options, provider.run_options.allow_mass_deactivation, params
            )
        # links and store rows alike: a held-back type rolled its writes back and wrote none
        detail.entities[entity] = Deactivated(
            deactivated=outcome.deactivated, rows_written=outcome.deactivated + outcome.entities
        )
        if outcome.held:
            detail.held_back.append(HeldBack(entity=entity, reason=outcome.held))
    detail.rows_written = sum(d.rows_written for d in detail.entities.values())
    return StepDone(records=sum(d.deactivated for d in detail.entities.values()), detail=detail)


@dataclass(frozen=True)
class Verdict:
    """What deactivation would do for one entity type, judged before anything is written."""

    # links the run would deactivate
    count: int = 0
    # why a guard holds them back (None: they may go)
    held: str | None = None
    # SQL over the provider's links (alias `l`) that selects them; None: nothing to deactivate
    condition: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def judge(
    conn: Connection,
    entity: EntityType,
    feed: feeds.Feed,
    options: ProviderOptions,
    allow_mass: bool,
    params: dict[str, Any],
) -> Verdict:
    """The guards of one entity type on the plan: the same rules as `_deactivate_entity`, counted."""
    if not feed.supplied or feed.mode is FeedMode.UNCHANGED:
        return Verdict()
    active = _active(conn, entity, params)
    if active == 0:
        # nothing this type could lose (a first sync): no guard to judge, an incomplete read included
        return Verdict()
    if not feed.complete:
        return Verdict(held=_incomplete(entity, feed))
    condition, params = _condition(conn, entity, feed, params)
    count = int(
        conn.execute(
            text(
                "SELECT count(*) FROM sis_entity_links l "
                f"WHERE l.provider_id = :p AND l.entity_type = :e AND l.active AND {condition}"
            ),
            {**params, "e": entity.value},
        ).scalar_one()
    )
    held = None
    if feed.mode is FeedMode.FULL and not allow_mass and _received(conn, entity, params) == 0:
        held = _empty(entity, active)
    elif (
        count > active * options.deactivation_threshold_percent / 100.0
        and active >= options.deactivation_guard_minimum
        and not allow_mass
    ):
        held = _over(entity, count, active, options)
    return Verdict(count=count, held=held, condition=condition if count else None, params=params)


def _active(conn: Connection, entity: EntityType, params: dict[str, Any]) -> int:
    return int(
        conn.execute(
            text("SELECT count(*) FROM sis_entity_links WHERE provider_id = :p AND entity_type = :e AND active"),
            {**params, "e": entity.value},
        ).scalar_one()
    )


def _received(conn: Connection, entity: EntityType, params: dict[str, Any]) -> int:
    return int(
        conn.execute(
            text(f"SELECT count(*) FROM {STAGING_TABLES[entity].name} WHERE run_id = :r AND NOT tombstone"), params
        ).scalar_one()
    )


def _condition(
    conn: Connection, entity: EntityType, feed: feeds.Feed, params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """SQL over links `l`: the ones this feed says left (a full feed: not received; a delta: its
    tombstones and, for enrollments, what a completely listed class no longer lists)."""
    if feed.mode is FeedMode.FULL:
        return f"NOT {_present(entity)}", params
    condition = _tombstoned(entity)
    if entity is EntityType.ENROLLMENT and feed.complete_classes:
        condition = f"(({condition}) OR (l.entity_id IN {_enrollments_of_listed_classes()} AND NOT {_present(entity)}))"
        params = {**params, "classes": sorted(feed.complete_classes)}
    return condition, params


def _incomplete(entity: EntityType, feed: feeds.Feed) -> str:
    reason = "; ".join(feed.messages) or "the extract did not finish"
    return f"{entity.plural}: extract incomplete ({reason}); nothing deactivated"


def _empty(entity: EntityType, active: int) -> str:
    return (
        f"{entity.plural}: the feed has no rows while {active:,} are active; "
        "treated as a broken export, nothing deactivated"
    )


def _over(entity: EntityType, count: int, active: int, options: ProviderOptions) -> str:
    share = 100.0 * count / active
    return (
        f"{entity.plural}: {count:,} of {active:,} active ({share:.0f}%) would be deactivated, above "
        f"the {options.deactivation_threshold_percent:g}% threshold; nothing deactivated (run again with "
        "allowMassDeactivation to apply)"
    )


def _apply_planned(conn: Connection, entity: EntityType, feed: feeds.Feed, params: dict[str, Any]) -> _Outcome:
    """An approved run: exactly the deactivations kept with its plan (an incomplete extract
    planned none, and still says so)."""
    if feed.supplied and not feed.complete:
        return _Outcome(held=_incomplete(entity, feed))
    links, entities = _deactivate(conn, entity, held.planned_deactivations(entity), params)
    return _Outcome(deactivated=links, entities=entities)


def _present(entity: EntityType) -> str:
    raw = STAGING_TABLES[entity].name
    return f"EXISTS (SELECT 1 FROM {raw} s WHERE s.run_id = :r AND s.external_id = l.external_id AND NOT s.tombstone)"


def _tombstoned(entity: EntityType) -> str:
    raw = STAGING_TABLES[entity].name
    return (
        f"EXISTS (SELECT 1 FROM {raw} s WHERE s.run_id = :r AND s.external_id = l.external_id AND s.tombstone) "
        f"AND NOT {_present(entity)}"
    )


def _deactivate_entity(
    conn: Connection,
    entity: EntityType,
    feed: feeds.Feed,
    options: ProviderOptions,
    allow_mass: bool,
    params: dict[str, Any],
) -> _Outcome:
    if not feed.supplied or feed.mode is FeedMode.UNCHANGED:
        return _Outcome()
    if not feed.complete:
        return _Outcome(held=_incomplete(entity, feed))
    active = _active(conn, entity, params)
    if active == 0:
        return _Outcome()
    if feed.mode is FeedMode.FULL and _received(conn, entity, params) == 0 and not allow_mass:
        return _Outcome(held=_empty(entity, active))
    condition, params = _condition(conn, entity, feed, params)
    conn.execute(text("SAVEPOINT deactivate_entity"))
    count, entities = _deactivate(conn, entity, condition, params)
    limit = active * options.deactivation_threshold_percent / 100.0
    if count > limit and active >= options.deactivation_guard_minimum and not allow_mass:
        conn.execute(text("ROLLBACK TO SAVEPOINT deactivate_entity"))
        return _Outcome(held=_over(entity, count, active, options))
    conn.execute(text("RELEASE SAVEPOINT deactivate_entity"))
    return _Outcome(deactivated=count, entities=entities)


def _deactivate(conn: Connection, entity: EntityType, condition: str, params: dict[str, Any]) -> tuple[int, int]:
    """Deactivate the provider's active links a condition selects, and the entities they leave
    without an active link; returns (links, entities)."""
    deactivated = conn.execute(
        text(
            f"""
            WITH gone AS (
                UPDATE sis_entity_links l
                   SET active = false, deactivated_at = now(), last_changed_run_id = :r, updated_at = now()
                 WHERE l.provider_id = :p AND l.entity_type = :e AND l.active AND {condition}
                RETURNING l.entity_id, l.external_id
            ), orphaned AS (
                -- every statement of this WITH sees the links as they were, so the links just
                -- deactivated are excluded by key when looking for a remaining active one
                UPDATE {ENTITY_TABLES[entity]} x
                   SET active = false, deactivated_at = now(), updated_at = now()
                 WHERE x.id IN (SELECT entity_id FROM gone) AND x.active
                   AND NOT EXISTS (SELECT 1 FROM sis_entity_links o
                                    WHERE o.entity_type = :e AND o.entity_id = x.id AND o.active
                                      AND NOT (o.provider_id = :p
                                               AND o.external_id IN (SELECT external_id FROM gone)))
                RETURNING x.id
            ), {ledger.deactivation_ctes(entity, "gone", "orphaned")}
            SELECT (SELECT count(*) FROM gone) AS links, (SELECT count(*) FROM orphaned) AS entities
            """
        ),
        {**params, "e": entity.value},
    ).one()
    return int(deactivated.links), int(deactivated.entities)


def _enrollments_of_listed_classes() -> str:
    return (
        "(SELECT en.id FROM enrollments en JOIN sis_entity_links cl ON cl.entity_id = en.class_id "
        "AND cl.provider_id = :p AND cl.entity_type = 'class' WHERE cl.external_id = ANY(:classes))"
    )
