"""The outbox's other half: a delivered, abandoned or dropped message settles; a lost one goes again.

`events.kept` writes each message in the transaction of the change it announces and the caller
sends it after the commit. A process that died in between, or a broker that lost the message,
leaves the row unsettled with no attempt where one was due: the scheduler's tick sends those
again, under the same message id (`webhook-id`, which receivers use to drop a duplicate). An
attempt in its backoff is not lost until its retry was due and a grace period passed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from libs.etl.phase import Next
from libs.settings import Settings
from libs.webhooks.events import DELIVER, QUEUE

# how long after it was due a message without an attempt counts as lost: longer than a busy
# control queue keeps a message waiting, shorter than anyone waits for an alert
GRACE_SECONDS = 300
# the longest backoff between two attempts of one message
MAX_DELAY_SECONDS = 6 * 3600


def settle(conn: Connection, message_id: str) -> None:
    conn.execute(
        text("UPDATE sis_webhook_outbox SET settled_at = now() WHERE message_id = :m AND settled_at IS NULL"),
        {"m": message_id},
    )


def lost(conn: Connection, settings: Settings, now: datetime) -> list[Next]:
    """Mark the unsettled messages whose next attempt is overdue as sent now; the messages to send.

    Two scheduler replicas may run this at once: the row lock and the re-checked `sent_at` let
    only one of them take each message.
    """
    rows = conn.execute(
        text(
            """
            WITH due AS (
                SELECT o.message_id, o.sent_at,
                       greatest(o.sent_at,
                                a.last_at + make_interval(secs => least(:base * 2 ^ (a.attempts - 1), :longest)))
                           AS due_at
                  FROM sis_webhook_outbox o
                  LEFT JOIN LATERAL (
                      SELECT count(*) AS attempts, max(d.created_at) AS last_at
                        FROM sis_webhook_deliveries d WHERE d.message_id = o.message_id
                  ) a ON true
                 WHERE o.settled_at IS NULL
            )
            UPDATE sis_webhook_outbox o
               SET sent_at = :now
              FROM due
             WHERE o.message_id = due.message_id AND o.sent_at = due.sent_at AND o.settled_at IS NULL
               AND due.due_at < :now - make_interval(secs => :grace)
            RETURNING o.message_id, o.webhook_id, o.body
            """
        ),
        {
            "now": now,
            "base": settings.webhook_retry_base_seconds,
            "longest": MAX_DELAY_SECONDS,
            "grace": GRACE_SECONDS,
        },
    ).all()
    return [Next(DELIVER, QUEUE, (str(row.webhook_id), row.message_id, row.body)) for row in rows]
