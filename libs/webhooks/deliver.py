"""One delivery attempt of a webhook message: signed, sent under the egress policy, logged.

The caller (the `sis.webhook_deliver` actor) retries when `retry_in` says so. A day of failed
attempts with no success between them disables the webhook, with an audit entry. The log keeps
the status code, duration, attempt, a short error and at most a short excerpt of what the
receiver answered; never the secret, and the payload only by its message id.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import Connection, Engine, text
from standardwebhooks import Webhook

from libs.audit import record
from libs.connectors.egress import EgressPolicy
from libs.connectors.errors import EgressRefused, short_reason
from libs.connectors.http.client import build_client
from libs.db.crypto import ConfigCipher, DecryptionError
from libs.settings import Settings
from libs.webhooks import outbox, store
from libs.webhooks.outbox import MAX_DELAY_SECONDS

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DISABLE_AFTER_SECONDS = 24 * 3600
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class Attempt:
    number: int
    status_code: int | None
    error: str | None
    # seconds until the next attempt; None: no more attempts (delivered, refused, given up, disabled)
    retry_in: float | None


def backoff(settings: Settings, attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: base, 2 x base, 4 x base... at most 6 hours."""
    return float(min(settings.webhook_retry_base_seconds * 2 ** (attempt - 1), MAX_DELAY_SECONDS))


def deliver(
    engine: Engine,
    cipher: ConfigCipher,
    settings: Settings,
    webhook_id: str,
    message_id: str,
    body: str,
) -> Attempt | None:
    """Make the next attempt of one message; None when the webhook is gone or disabled."""
    with engine.connect() as conn:
        row = store.get(conn, uuid.UUID(webhook_id))
        if row is None or not row.enabled:
            log.info("webhook %s: message %s dropped, the webhook is gone or disabled", webhook_id, message_id)
            outbox.settle(conn, message_id)
            conn.commit()
            return None
        number = 1 + int(
            conn.execute(
                text("SELECT count(*) FROM sis_webhook_deliveries WHERE message_id = :m"), {"m": message_id}
            ).scalar_one()
        )
    event = str(json.loads(body).get("type", ""))
    status_code, error, excerpt, refused = None, None, None, False
    started = time.monotonic()
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        signature = Webhook(store.open_secret(cipher, row)).sign(message_id, now, body)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        with (
            build_client(egress=EgressPolicy.from_settings(settings), timeout=TIMEOUT) as client,
            client.stream("POST", row.url, content=body.encode(), headers=headers) as response,
        ):
            status_code = response.status_code
            # a short excerpt of the answer at most: the rest is never read
            first = next(response.iter_bytes(), b"")
            excerpt = short_reason(first[: EXCERPT_CHARS * 4].decode("utf-8", "replace"), limit=EXCERPT_CHARS) or None
    except EgressRefused as exc:
        error, refused = str(exc), True
    except DecryptionError:
        error, refused = "the signing secret does not open with CONFIG_ENCRYPTION_KEYS", True
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = short_reason(f"{type(exc).__name__}: {exc}", limit=EXCERPT_CHARS)
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    if status_code is not None and not ok:
        error = f"HTTP {status_code}"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_webhook_deliveries "
                "(webhook_id, message_id, event, attempt, status_code, duration_ms, error, response_excerpt) "
                "VALUES (:w, :m, :e, :n, :s, :d, :err, :x)"
            ),
            {
                "w": row.id,
                "m": message_id,
                "e": event,
                "n": number,
                "s": status_code,
                "d": duration_ms,
                "err": error,
                "x": excerpt,
            },
        )
        disabled = _keep_books(conn, row, ok)
        last = ok or refused or disabled or number > settings.webhook_max_retries
        if last:
            outbox.settle(conn, message_id)
    if ok:
        return Attempt(number, status_code, None, None)
    log.warning("webhook %s: attempt %s of message %s failed: %s", row.id, number, message_id, error)
    if last:
        return Attempt(number, status_code, error, None)
    return Attempt(number, status_code, error, backoff(settings, number))


def _keep_books(conn: Connection, row: store.StoredWebhook, ok: bool) -> bool:
    """Track consecutive failures; a day of them disables the webhook. Returns whether it did."""
    if ok:
        conn.execute(text("UPDATE sis_webhooks SET failing_since = NULL WHERE id = :id"), {"id": row.id})
        return False
    disabled = conn.execute(
        text(
            """
            UPDATE sis_webhooks
               SET failing_since = coalesce(failing_since, now()),
                   enabled = enabled AND coalesce(failing_since, now()) > now() - make_interval(secs => :after),
                   disabled_reason = CASE WHEN coalesce(failing_since, now()) > now() - make_interval(secs => :after)
                                          THEN disabled_reason
                                          ELSE 'every delivery failed for a day' END,
                   updated_at = now()
             WHERE id = :id AND enabled
            RETURNING NOT enabled AS disabled, failing_since
            """
        ),
        {"id": row.id, "after": DISABLE_AFTER_SECONDS},
    ).first()
    if disabled is None or not disabled.disabled:
        return False
    log.warning("webhook %s disabled: every delivery failed since %s", row.id, disabled.failing_since)
    record(
        conn,
        action="webhook.disabled",
        actor="sis-sync",
        target_type="sis_webhook",
        target_id=row.id,
        tenant_id=row.tenant_id,
        details={"reason": "every delivery failed for a day", "failingSince": disabled.failing_since},
    )
    return True
