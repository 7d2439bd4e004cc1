"""Webhooks end to end: a real worker delivers run and staleness events to a real loopback receiver."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Row, text
from standardwebhooks import Webhook

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.db.dev_secrets import config_cipher
from libs.enums import ProviderType, SyncStatus
from libs.settings import Settings
from libs.webhooks import events, outbox, store
from services.scheduler.tick import tick
from tests.support.providers import create_provider, update_config
from tests.support.receiver import Receiver, receiver
from tests.support.workers import ServiceProcess, Syncs, start_worker, wait_until

pytestmark = pytest.mark.e2e

TENANT = "district-1"
RUN_EVENTS = ["run.succeeded", "run.partial", "run.failed", "run.held", "run.cancelled"]


@pytest.fixture(scope="module")
def hook_settings(e2e_settings: Settings) -> Settings:
    # a key space of its own: only this module's worker, with fast retries, takes these messages
    return e2e_settings.model_copy(update={"redis_namespace": f"{e2e_settings.redis_namespace}-hooks"})


@pytest.fixture(scope="module")
def hook_worker(hook_settings: Settings, log_dir: Path) -> Iterator[ServiceProcess]:
    process = start_worker(hook_settings, log_dir, threads=4, webhook_retry_base_seconds=0.2)
    yield process
    process.stop()


@pytest.fixture
def syncs(hook_settings: Settings, db: Engine, hook_worker: ServiceProcess) -> Iterator[Syncs]:
    helper = Syncs(hook_settings, db)
    yield helper
    helper.close()
    assert hook_worker.alive(), hook_worker.output()[-3000:]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    district = District(DistrictSpec(students=120, teachers=12, schools=2, seed=5))
    return write_oneroster_csv(district, tmp_path_factory.mktemp("hooks") / "base")


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _webhook(db: Engine, settings: Settings, url: str, wanted: list[str], tenant: str | None = TENANT) -> str:
    with db.begin() as conn:
        _, secret = store.create(conn, config_cipher(settings), tenant_id=tenant, url=url, events=wanted, enabled=True)
    return secret


def _roster_words(package: Path) -> set[str]:
    with (package / "users.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {row[k] for row in rows for k in ("givenName", "familyName", "email", "username") if len(row[k]) > 3}


def test_each_run_outcome_is_delivered_once_signed(
    syncs: Syncs,
    db: Engine,
    hook_settings: Settings,
    hook_worker: ServiceProcess,
    package: Path,
    hook: Receiver,
    tmp_path: Path,
) -> None:
    secret = _webhook(db, hook_settings, hook.url + "/tenant", RUN_EVENTS)
    platform_secret = _webhook(db, hook_settings, hook.url + "/platform", ["run.failed"], tenant=None)
    _webhook(db, hook_settings, hook.url + "/other", RUN_EVENTS, tenant="district-2")
    provider_id = create_provider(
        db, hook_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(package)}
    )

    runs = [syncs.run(provider_id)]
    broken = tmp_path / "broken"
    shutil.copytree(package, broken)
    enrollments = broken / "enrollments.csv"
    enrollments.write_text(enrollments.read_text(encoding="utf-8").splitlines(keepends=True)[0], encoding="utf-8")
    update_config(db, hook_settings, provider_id, {"localPath": str(broken)})
    runs.append(syncs.run(provider_id))
    update_config(db, hook_settings, provider_id, {"localPath": str(tmp_path / "missing")})
    runs.append(syncs.run(provider_id))
    # the empty enrollments file holds the run for review (requireApproval onGuard)
    assert [r["status"] for r in runs] == [SyncStatus.SUCCESS, SyncStatus.HELD, SyncStatus.FAILURE]

    wait_until(lambda: len(hook.requests) >= 4, timeout=60, what="four deliveries")
    tenant = [r for r in hook.requests if r.path.endswith("/tenant")]
    platform = [r for r in hook.requests if r.path.endswith("/platform")]
    assert not [r for r in hook.requests if r.path.endswith("/other")]
    payloads = [Webhook(secret).verify(r.body, r.headers) for r in tenant]
    assert [(p["type"], p["data"]["runId"]) for p in payloads] == [
        ("run.succeeded", str(runs[0]["id"])),
        ("run.held", str(runs[1]["id"])),
        ("run.failed", str(runs[2]["id"])),
    ]
    assert [Webhook(platform_secret).verify(r.body, r.headers)["data"]["runId"] for r in platform] == [
        str(runs[2]["id"])
    ]
    held = payloads[1]["data"]
    assert held["providerId"] == str(provider_id)
    assert held["providerType"] == "ONEROSTER_CSV"
    assert held["tenantId"] == TENANT
    assert held["status"] == "HELD"
    assert "enrollments" in held["message"]
    assert held["counts"]["users"]["received"] == runs[1]["stats"]["users"]["received"]
    assert held["counts"]["plan"]["enrollments"]["deactivate"] == runs[1]["stats"]["plan"]["enrollments"]["deactivate"]

    # once each: one attempt logged per message (the worker logs it once the answer is in)
    def logged() -> list[Row[Any]] | None:
        with db.connect() as conn:
            rows = conn.execute(text("SELECT message_id, attempt, status_code FROM sis_webhook_deliveries")).all()
        return list(rows) if len(rows) >= 4 else None

    attempts = wait_until(logged, timeout=30, what="four logged attempts")
    assert sorted(a.attempt for a in attempts) == [1, 1, 1, 1]
    assert {a.status_code for a in attempts} == {200}
    _nothing_secret_or_roster(hook, hook_worker, package, [secret, platform_secret])


def test_a_receiver_that_fails_three_times_gets_the_fourth_attempt(
    syncs: Syncs, db: Engine, hook_settings: Settings, hook: Receiver
) -> None:
    secret = _webhook(db, hook_settings, hook.url, ["run.failed"])
    hook.statuses = [500, 500, 500]
    with db.connect() as conn:
        (row,) = store.of_tenant(conn, TENANT)
    sent = events.messages([row.id], events.payload(events.TEST_EVENT, {"tenantId": TENANT}))
    syncs.send(*sent)
    wait_until(lambda: len(hook.requests) >= 4, timeout=60, what="the fourth attempt")
    assert {r.headers["webhook-id"] for r in hook.requests} == {sent[0].args[1]}
    assert Webhook(secret).verify(hook.requests[3].body, hook.requests[3].headers)["type"] == "webhook.test"

    def logged() -> list[Any] | None:
        with db.connect() as conn:
            log = store.deliveries(conn, row.id, limit=10)
        return log if len(log) >= 4 else None  # the worker logs an attempt once its answer is in

    log = wait_until(logged, timeout=30, what="four logged attempts")
    assert [(d["attempt"], d["status_code"]) for d in reversed(log)] == [(1, 500), (2, 500), (3, 500), (4, 200)]


def test_a_stale_provider_raises_one_alert_and_one_recovery(
    syncs: Syncs, db: Engine, hook_settings: Settings, hook_worker: ServiceProcess, package: Path, hook: Receiver
) -> None:
    secret = _webhook(db, hook_settings, hook.url, ["provider.stale", "provider.recovered", "run.succeeded"])
    provider_id = create_provider(
        db,
        hook_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(package)},
        options={"alertAfterHours": 2},
    )
    with db.begin() as conn:  # synced three hours ago
        conn.execute(
            text("UPDATE sis_providers SET last_sync_at = now() - interval '3 hours' WHERE id = :p"),
            {"p": provider_id},
        )
    now = datetime.now(UTC)
    for _ in range(3):
        tick(hook_settings, now=now, broker=syncs.broker)
    with db.connect() as conn:
        stale_since = conn.execute(
            text("SELECT stale_since FROM sis_providers WHERE id = :p"), {"p": provider_id}
        ).scalar_one()
    assert stale_since == now
    assert syncs.run(provider_id)["status"] == SyncStatus.SUCCESS
    for _ in range(3):
        tick(hook_settings, now=datetime.now(UTC) + timedelta(minutes=1), broker=syncs.broker)
    wait_until(lambda: len(hook.requests) >= 3, timeout=60, what="alert, run and recovery")
    types = [Webhook(secret).verify(r.body, r.headers)["type"] for r in hook.requests]
    assert sorted(types) == ["provider.recovered", "provider.stale", "run.succeeded"]
    stale = Webhook(secret).verify(hook.requests[0].body, hook.requests[0].headers)
    assert stale["data"]["providerId"] == str(provider_id)
    assert stale["data"]["alertAfterHours"] == 2
    _nothing_secret_or_roster(hook, hook_worker, package, [secret])


def _nothing_secret_or_roster(hook: Receiver, worker: ServiceProcess, package: Path, secrets: list[str]) -> None:
    output = worker.output()
    bodies = "\n".join(r.body.decode() + str(r.headers) for r in hook.requests)
    for secret in secrets:
        for text_ in (output, bodies):
            assert secret not in text_
            assert secret.removeprefix("whsec_") not in text_
    for word in _roster_words(package):
        assert word not in bodies
        assert word not in output, word


def test_an_event_whose_message_was_lost_after_the_commit_is_delivered_by_the_scheduler(
    syncs: Syncs, db: Engine, hook_settings: Settings, hook_worker: ServiceProcess, hook: Receiver
) -> None:
    secret = _webhook(db, hook_settings, hook.url, ["provider.stale"])
    # the event commits with its outbox row, and the process dies before it sends the message
    with db.begin() as conn:
        (lost,) = events.announce(conn, "provider.stale", TENANT, {"providerId": "p-1"})
    message_id = lost.args[1]
    later = datetime.now(UTC) + timedelta(seconds=outbox.GRACE_SECONDS + 5)
    # within the grace period nothing is sent again: the message may still be on its way
    assert _resent(db, hook_settings, datetime.now(UTC)) == []

    tick(hook_settings, now=later, broker=syncs.broker)

    wait_until(lambda: hook.requests, timeout=60, what="the lost message")
    (got,) = hook.requests
    assert got.headers["webhook-id"] == message_id
    assert Webhook(secret).verify(got.body, got.headers)["data"]["providerId"] == "p-1"
    wait_until(lambda: _settled(db, message_id), timeout=30, what="the message to settle")
    # delivered: however late the next tick, nothing goes again
    assert _resent(db, hook_settings, later + timedelta(days=2)) == []
    assert len(hook.requests) == 1


def _resent(db: Engine, settings: Settings, now: datetime) -> list[Any]:
    with db.begin() as conn:
        return outbox.lost(conn, settings, now)


def _settled(db: Engine, message_id: str) -> bool:
    with db.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT settled_at IS NOT NULL FROM sis_webhook_outbox WHERE message_id = :m"), {"m": message_id}
            ).scalar_one()
        )
