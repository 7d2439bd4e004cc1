"""Which events exist, what their payloads say, and the messages that deliver them.

A payload follows the Standard Webhooks shape (`type`, `timestamp`, `data`) and carries ids,
statuses, a message and counts only: no roster record and no config value ever goes in it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, text

from libs.enums import SyncStatus
from libs.etl.details import RunStats
from libs.etl.phase import Next, Queue

DELIVER = "sis.webhook_deliver"
QUEUE = Queue.CONTROL


class WebhookEvent(StrEnum):
    RUN_SUCCEEDED = "run.succeeded"
    RUN_PARTIAL = "run.partial"
    RUN_FAILED = "run.failed"
    # a run held for review; announced as soon as the run status exists (one line below)
    RUN_HELD = "run.held"
    RUN_CANCELLED = "run.cancelled"
    PROVIDER_STALE = "provider.stale"
    PROVIDER_RECOVERED = "provider.recovered"


# "send test event": delivered whatever the webhook subscribed to
TEST_EVENT = "webhook.test"

RUN_EVENTS: dict[str, WebhookEvent] = {
    SyncStatus.SUCCESS: WebhookEvent.RUN_SUCCEEDED,
    SyncStatus.PARTIAL: WebhookEvent.RUN_PARTIAL,
    SyncStatus.FAILURE: WebhookEvent.RUN_FAILED,
    SyncStatus.CANCELLED: WebhookEvent.RUN_CANCELLED,
    SyncStatus.HELD: WebhookEvent.RUN_HELD,
}


def payload(event: str, data: dict[str, Any], *, at: datetime | None = None) -> str:
    """The request body, fixed once: every attempt signs and sends these exact bytes."""
    stamp = (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event, "timestamp": stamp, "data": data}, separators=(",", ":"), default=str)


def messages(webhook_ids: list[uuid.UUID], body: str) -> list[Next]:
    """One delivery message per webhook; the message id is the `webhook-id` every retry repeats."""
    return [Next(DELIVER, QUEUE, (str(w), f"msg_{uuid.uuid4().hex}", body)) for w in webhook_ids]


def subscribers(conn: Connection, event: str, tenant_id: str) -> list[uuid.UUID]:
    """The enabled webhooks of the tenant and the platform-wide ones that want this event."""
    rows = conn.execute(
        text(
            "SELECT id FROM sis_webhooks WHERE enabled AND :event = ANY(events) "
            "AND (tenant_id = :t OR tenant_id IS NULL) ORDER BY created_at, id"
        ),
        {"event": event, "t": tenant_id},
    )
    return [row.id for row in rows]


def kept(conn: Connection, out: list[Next]) -> list[Next]:
    """Write the messages to the outbox in the caller's transaction, so that none is lost between
    its commit and the send (libs/webhooks/outbox.py sends a lost one again); returns them."""
    if out:
        conn.execute(
            text(
                "INSERT INTO sis_webhook_outbox (message_id, webhook_id, body) "
                "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:hooks AS uuid[]), CAST(:bodies AS text[]))"
            ),
            {
                "ids": [m.args[1] for m in out],
                "hooks": [m.args[0] for m in out],
                "bodies": [m.args[2] for m in out],
            },
        )
    return out


def announce(conn: Connection, event: str, tenant_id: str, data: dict[str, Any]) -> list[Next]:
    """The delivery messages of one event, kept in the outbox; send them after the caller's
    transaction commits."""
    hooks = subscribers(conn, event, tenant_id)
    return kept(conn, messages(hooks, payload(event, {"tenantId": tenant_id, **data}))) if hooks else []


def run_ended(conn: Connection, run_id: uuid.UUID | str) -> list[Next]:
    """The event of a run that has just ended (in the transaction that ended it)."""
    row = conn.execute(
        text(
            "SELECT r.id, r.provider_id, r.tenant_id, r.status, r.trigger, r.mode, r.error_message, r.stats, "
            "r.started_at, r.completed_at, p.provider_type "
            "FROM sis_sync_runs r JOIN sis_providers p ON p.id = r.provider_id WHERE r.id = :r"
        ),
        {"r": run_id},
    ).one()
    event = RUN_EVENTS.get(str(row.status))
    if event is None:
        return []
    data = {
        "runId": str(row.id),
        "providerId": str(row.provider_id),
        "providerType": str(row.provider_type),
        "status": str(row.status),
        "trigger": row.trigger,
        "mode": row.mode,
        "message": row.error_message,
        "startedAt": row.started_at,
        "completedAt": row.completed_at,
        # numbers only, through the typed model: per entity type {received, created, ...} and totals
        "counts": RunStats.model_validate(row.stats or {}).to_json(),
    }
    return announce(conn, event, str(row.tenant_id), data)
