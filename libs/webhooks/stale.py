"""Staleness: a provider whose last successful sync is older than its `alertAfterHours`.

One statement judges every provider and flips the state of those whose state changed, so each
change is announced once (two scheduler replicas racing re-check the row and the second one
finds nothing to flip). `last_sync_at` is the end of the last SUCCESS or PARTIAL run; a provider
that never synced counts from its creation. The alert is off for manual providers unless
`alertAfterHours` says otherwise, and a disabled or deleted provider is never stale.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from libs.etl.phase import Next
from libs.webhooks.events import WebhookEvent, announce

DEFAULT_HOURS = 36


def check(conn: Connection, now: datetime) -> list[Next]:
    """Flip the stale state of every provider whose state changed; the events to send after commit."""
    rows = conn.execute(
        text(
            """
            WITH judged AS (
                SELECT id, hours, enabled AND deleted_at IS NULL AND hours > 0 AS watched,
                       enabled AND deleted_at IS NULL AND hours > 0
                           AND coalesce(last_sync_at, created_at) < :now - make_interval(hours => hours) AS stale
                  FROM (SELECT *, coalesce((options ->> 'alertAfterHours')::int,
                                           CASE WHEN sync_schedule IS NOT NULL THEN :default END, 0) AS hours
                          FROM sis_providers) p
            )
            UPDATE sis_providers p
               SET stale_since = CASE WHEN j.stale THEN :now END
              FROM judged j
             WHERE p.id = j.id AND j.stale <> (p.stale_since IS NOT NULL)
            RETURNING p.id, p.tenant_id, p.provider_type, p.last_sync_at, j.hours, j.stale, j.watched
            """
        ),
        {"now": now, "default": DEFAULT_HOURS},
    ).all()
    out: list[Next] = []
    for row in rows:
        if not row.stale and not row.watched:
            continue  # alert turned off, provider disabled or deleted: the state clears quietly
        event = WebhookEvent.PROVIDER_STALE if row.stale else WebhookEvent.PROVIDER_RECOVERED
        data = {
            "providerId": str(row.id),
            "providerType": str(row.provider_type),
            "lastSyncAt": row.last_sync_at,
            "alertAfterHours": row.hours,
        }
        out += announce(conn, event, row.tenant_id, data)
    return out
