"""One delivery attempt against a real receiver on loopback: signature, log, retries, auto-disable."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from standardwebhooks import Webhook

from libs.db.crypto import ConfigCipher
from libs.db.dev_secrets import config_cipher
from libs.settings import Settings
from libs.webhooks import deliver, events, outbox, store
from tests.support.receiver import Receiver, receiver


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def cipher(settings: Settings) -> ConfigCipher:
    return config_cipher(settings)


def _create(db: Engine, cipher: ConfigCipher, url: str) -> tuple[store.StoredWebhook, str]:
    with db.begin() as conn:
        return store.create(conn, cipher, tenant_id="district-1", url=url, events=["run.failed"], enabled=True)


def test_a_delivery_is_signed_as_standard_webhooks_verifies_it(
    db: Engine, cipher: ConfigCipher, settings: Settings, hook: Receiver
) -> None:
    row, secret = _create(db, cipher, hook.url)
    assert secret.startswith("whsec_")
    body = events.payload("run.failed", {"tenantId": "district-1", "runId": "r1"})
    attempt = deliver.deliver(db, cipher, settings, str(row.id), "msg_abc", body)
    assert attempt == deliver.Attempt(1, 200, None, None)
    (got,) = hook.requests
    assert Webhook(secret).verify(got.body, got.headers) == {
        "type": "run.failed",
        "timestamp": json.loads(body)["timestamp"],
        "data": {"tenantId": "district-1", "runId": "r1"},
    }
    assert got.headers["webhook-id"] == "msg_abc"
    assert got.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(Exception, match="No matching signature"):
        Webhook("whsec_" + "A" * 43).verify(got.body, got.headers)


def test_failures_are_logged_retried_with_backoff_and_the_excerpt_is_short(
    db: Engine, cipher: ConfigCipher, settings: Settings, hook: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    row, secret = _create(db, cipher, hook.url)
    hook.statuses = [500, 500, 500]
    hook.answer = b"x" * 10_000
    body = events.payload("run.failed", {"tenantId": "district-1"})
    attempts = [deliver.deliver(db, cipher, settings, str(row.id), "msg_r", body) for _ in range(4)]
    assert [(a.number, a.status_code, a.retry_in) for a in attempts if a] == [
        (1, 500, 5.0),
        (2, 500, 10.0),
        (3, 500, 20.0),
        (4, 200, None),
    ]
    with db.connect() as conn:
        log = store.deliveries(conn, row.id, limit=10)
    assert [(d["attempt"], d["status_code"], d["error"]) for d in log] == [
        (4, 200, None),
        (3, 500, "HTTP 500"),
        (2, 500, "HTTP 500"),
        (1, 500, "HTTP 500"),
    ]
    assert all(len(d["response_excerpt"]) <= deliver.EXCERPT_CHARS for d in log)
    assert secret not in caplog.text
    assert secret.removeprefix("whsec_") not in caplog.text


def test_the_default_backoff_starts_within_ten_seconds_and_spans_about_a_day(settings: Settings) -> None:
    delays = [deliver.backoff(settings, n) for n in range(1, settings.webhook_max_retries + 1)]
    assert delays[0] <= 10
    assert 20 * 3600 <= sum(delays) <= 30 * 3600
    assert max(delays) <= deliver.MAX_DELAY_SECONDS


def test_the_last_retry_gives_up(db: Engine, cipher: ConfigCipher, settings: Settings, hook: Receiver) -> None:
    row, _ = _create(db, cipher, hook.url)
    hook.statuses = [503] * 3
    few = settings.model_copy(update={"webhook_max_retries": 2})
    body = events.payload("run.failed", {})
    retries = [deliver.deliver(db, cipher, few, str(row.id), "msg_g", body) for _ in range(3)]
    assert [a.retry_in is not None for a in retries if a] == [True, True, False]


def test_a_day_of_failures_disables_the_webhook_with_an_audit_entry(
    db: Engine, cipher: ConfigCipher, settings: Settings, hook: Receiver
) -> None:
    row, _ = _create(db, cipher, hook.url)
    hook.statuses = [500, 500]
    body = events.payload("run.failed", {})
    first = deliver.deliver(db, cipher, settings, str(row.id), "msg_d1", body)
    assert first is not None
    assert first.retry_in is not None
    with db.begin() as conn:  # the first failure was 25 hours ago
        since = datetime.now(UTC) - timedelta(hours=25)
        conn.execute(text("UPDATE sis_webhooks SET failing_since = :s WHERE id = :id"), {"s": since, "id": row.id})
    second = deliver.deliver(db, cipher, settings, str(row.id), "msg_d2", body)
    assert second is not None
    assert second.retry_in is None
    with db.connect() as conn:
        stored = store.get(conn, row.id)
        audit = conn.execute(text("SELECT action, actor, tenant_id, target_id FROM audit_log")).all()
    assert stored is not None
    assert not stored.enabled
    assert stored.disabled_reason == "every delivery failed for a day"
    assert [tuple(a) for a in audit] == [("webhook.disabled", "sis-sync", "district-1", str(row.id))]
    # a disabled webhook gets nothing more
    assert deliver.deliver(db, cipher, settings, str(row.id), "msg_d3", body) is None
    assert len(hook.requests) == 2


def test_a_success_resets_the_failure_clock(
    db: Engine, cipher: ConfigCipher, settings: Settings, hook: Receiver
) -> None:
    row, _ = _create(db, cipher, hook.url)
    hook.statuses = [500]
    body = events.payload("run.failed", {})
    deliver.deliver(db, cipher, settings, str(row.id), "msg_s", body)
    deliver.deliver(db, cipher, settings, str(row.id), "msg_s", body)
    with db.connect() as conn:
        stored = store.get(conn, row.id)
    assert stored is not None
    assert stored.failing_since is None
    assert stored.enabled


def test_a_message_in_its_backoff_is_not_lost_until_its_retry_was_due_and_the_grace_passed(
    db: Engine, cipher: ConfigCipher, settings: Settings, hook: Receiver
) -> None:
    hook.statuses = [500]
    row, _ = _create(db, cipher, hook.url)
    with db.begin() as conn:
        (message,) = events.kept(conn, events.messages([row.id], events.payload("run.failed", {"runId": "r1"})))
    first = deliver.deliver(db, cipher, settings, *message.args)
    assert first is not None
    assert first.retry_in is not None
    with db.connect() as conn:
        attempted = conn.execute(
            text("SELECT max(created_at) FROM sis_webhook_deliveries WHERE message_id = :m"), {"m": message.args[1]}
        ).scalar_one()
    due = attempted + timedelta(seconds=first.retry_in + outbox.GRACE_SECONDS)
    with db.begin() as conn:
        assert outbox.lost(conn, settings, due - timedelta(seconds=5)) == []
    with db.begin() as conn:
        assert [m.args for m in outbox.lost(conn, settings, due + timedelta(seconds=5))] == [message.args]
    # taken once: a second scheduler at the same instant finds it sent
    with db.begin() as conn:
        assert outbox.lost(conn, settings, due + timedelta(seconds=5)) == []
    assert deliver.deliver(db, cipher, settings, *message.args) == deliver.Attempt(2, 200, None, None)
    with db.begin() as conn:
        assert outbox.lost(conn, settings, due + timedelta(days=3)) == []
