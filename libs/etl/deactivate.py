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
lost: held-back links stay active and the next good feed decides.

An entity is deactivated only when no active link of any provider points at it any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from libs.connectors.base import FeedMode
from libs.db.models.staging import STAGING_TABLES
from libs.enums import LOAD_ORDER, EntityType
from libs.etl import feeds
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
    detail = DeactivateDetail()
    # children first, so a held-back class keeps its enrollments company
    for entity in reversed(LOAD_ORDER):
        outcome = _deactivate_entity(
            conn, entity, run_feeds[entity], provider.options, provider.run_options.allow_mass_deactivation, params
        )
        # links and store rows alike: a held-back type rolled its writes back and wrote none
        detail.entities[entity] = Deactivated(
            deactivated=outcome.deactivated, rows_written=outcome.deactivated + outcome.entities
        )
        if outcome.held:
            detail.held_back.append(HeldBack(entity=entity, reason=outcome.held))
    detail.rows_written = sum(d.rows_written for d in detail.entities.values())
    return StepDone(records=sum(d.deactivated for d in detail.entities.values()), detail=detail)


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
        reason = "; ".join(feed.messages) or "the extract did not finish"
        return _Outcome(held=f"{entity.plural}: extract incomplete ({reason}); nothing deactivated")
    active = int(
        conn.execute(
            text("SELECT count(*) FROM sis_entity_links WHERE provider_id = :p AND entity_type = :e AND active"),
            {**params, "e": entity.value},
        ).scalar_one()
    )
    if active == 0:
        return _Outcome()
    received = int(
        conn.execute(
            text(f"SELECT count(*) FROM {STAGING_TABLES[entity].name} WHERE run_id = :r AND NOT tombstone"), params
        ).scalar_one()
    )
    if feed.mode is FeedMode.FULL:
        if received == 0 and not allow_mass:
            return _Outcome(
                held=f"{entity.plural}: the feed has no rows while {active:,} are active; "
                "treated as a broken export, nothing deactivated",
            )
        condition = f"NOT {_present(entity)}"
    else:
        condition = _tombstoned(entity)
        if entity is EntityType.ENROLLMENT and feed.complete_classes:
            condition = (
                f"(({condition}) OR (l.entity_id IN {_enrollments_of_listed_classes()} AND NOT {_present(entity)}))"
            )
            params = {**params, "classes": sorted(feed.complete_classes)}
    conn.execute(text("SAVEPOINT deactivate_entity"))
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
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM gone) AS links, (SELECT count(*) FROM orphaned) AS entities
            """
        ),
        {**params, "e": entity.value},
    ).one()
    count = int(deactivated.links)
    limit = active * options.deactivation_threshold_percent / 100.0
    if count > limit and active >= options.deactivation_guard_minimum and not allow_mass:
        conn.execute(text("ROLLBACK TO SAVEPOINT deactivate_entity"))
        share = 100.0 * count / active
        return _Outcome(
            held=f"{entity.plural}: {count:,} of {active:,} active ({share:.0f}%) would be deactivated, above "
            f"the {options.deactivation_threshold_percent:g}% threshold; nothing deactivated (run again with "
            "allowMassDeactivation to apply)",
        )
    conn.execute(text("RELEASE SAVEPOINT deactivate_entity"))
    return _Outcome(deactivated=count, entities=int(deactivated.entities))


def _enrollments_of_listed_classes() -> str:
    return (
        "(SELECT en.id FROM enrollments en JOIN sis_entity_links cl ON cl.entity_id = en.class_id "
        "AND cl.provider_id = :p AND cl.entity_type = 'class' WHERE cl.external_id = ANY(:classes))"
    )
