"""Removing a provider's hold on the roster when the provider itself is removed.

Set-based: one statement deactivates the provider's active links and then every roster entity
those links pointed at that has no active link of another provider left (one person synced by
two providers stays active while the other still lists them).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

from libs.enums import EntityType

# entity type (as stored in sis_entity_links) -> roster table
TABLES = {e.value: e.plural for e in EntityType}


def deactivate_provider_entities(conn: Connection, provider_id: uuid.UUID | str) -> dict[str, int]:
    """Deactivate the provider's links and the entities they alone kept active. Counts per table."""
    # Data-modifying CTEs all see the snapshot from before the statement, so "another active
    # link" must exclude this provider's links explicitly rather than rely on the first update.
    entity_updates = ",\n".join(
        f"""
        {table} AS (
            UPDATE {table} t SET active = false, deactivated_at = now(), updated_at = now()
             WHERE t.active
               AND t.id IN (SELECT entity_id FROM links WHERE entity_type = '{entity_type}')
               AND NOT EXISTS (SELECT 1 FROM sis_entity_links o
                                WHERE o.entity_id = t.id AND o.entity_type = '{entity_type}'
                                  AND o.active AND o.provider_id <> :p)
            RETURNING 1
        )"""
        for entity_type, table in TABLES.items()
    )
    counts = ", ".join(f"(SELECT count(*) FROM {table}) AS {table}" for table in TABLES.values())
    row = conn.execute(
        text(
            f"""
            WITH links AS (
                UPDATE sis_entity_links SET active = false, deactivated_at = now(), updated_at = now()
                 WHERE provider_id = :p AND active
                RETURNING entity_type, entity_id
            ),
            {entity_updates}
            SELECT (SELECT count(*) FROM links) AS links, {counts}
            """
        ),
        {"p": provider_id},
    ).one()
    return {key: int(value) for key, value in row._mapping.items()}
