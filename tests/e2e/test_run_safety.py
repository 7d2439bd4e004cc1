"""Run control with real processes: the global cap, a worker killed mid-load, cancel."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.enums import EntityType, ProviderType, SyncStatus
from libs.etl import runs
from libs.etl.phase import cancel_sync, start_sync
from libs.settings import Settings
from tests.support.providers import create_provider, request, run_row, store_counts
from tests.support.workers import ServiceProcess, Syncs, process_env, start_worker, wait_until

pytestmark = pytest.mark.e2e

TABLES = {
    EntityType.SCHOOL: "schools",
    EntityType.TERM: "terms",
    EntityType.CLASS: "classes",
    EntityType.USER: "users",
    EntityType.ENROLLMENT: "enrollments",
}


@pytest.fixture(scope="module")
def small_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    district = District(DistrictSpec(students=600, teachers=40, schools=3, seed=3))
    return write_oneroster_csv(district, tmp_path_factory.mktemp("small") / "pkg")


@pytest.fixture(scope="module")
def s_tier() -> District:
    return District(DistrictSpec.for_tier("S", seed=5))


@pytest.fixture(scope="module")
def s_package(s_tier: District, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_oneroster_csv(s_tier, tmp_path_factory.mktemp("s") / "pkg")


def _provider(db: Engine, settings: Settings, package: Path, tenant: str = "district-1") -> uuid.UUID:
    return create_provider(
        db, settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(package)}, tenant_id=tenant
    )


def test_five_providers_at_once_never_more_than_two_in_progress_and_all_finish(
    syncs: Syncs, db: Engine, e2e_settings: Settings, small_package: Path, database_url: str
) -> None:
    assert e2e_settings.max_concurrent_syncs == 2
    # every status change of every run records how many runs were IN_PROGRESS right after it
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS test_in_progress (n int)")
        conn.execute("TRUNCATE test_in_progress")
        conn.execute(
            """
            CREATE OR REPLACE FUNCTION test_count_in_progress() RETURNS trigger AS $$
            BEGIN
              INSERT INTO test_in_progress SELECT count(*) FROM sis_sync_runs WHERE status = 'IN_PROGRESS';
              RETURN NULL;
            END $$ LANGUAGE plpgsql
            """
        )
        conn.execute(
            "CREATE OR REPLACE TRIGGER test_in_progress AFTER INSERT OR UPDATE OF status ON sis_sync_runs "
            "FOR EACH STATEMENT EXECUTE FUNCTION test_count_in_progress()"
        )
    try:
        providers = [_provider(db, e2e_settings, small_package, tenant=f"district-{i}") for i in range(5)]
        run_ids = [syncs.start(p) for p in providers]
        finished = [syncs.wait(r, timeout=300) for r in run_ids]
        with psycopg.connect(database_url) as conn:
            seen = [row[0] for row in conn.execute("SELECT n FROM test_in_progress")]
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER IF EXISTS test_in_progress ON sis_sync_runs")
            conn.execute("DROP TABLE IF EXISTS test_in_progress")
    assert [run["status"] for run in finished] == [SyncStatus.SUCCESS] * 5
    assert max(seen) == 2
    assert len(seen) >= 15  # five admissions and five completions, at least


@pytest.fixture
def blocked_enrollments(database_url: str) -> Iterator[psycopg.Connection]:
    """Holds a lock that makes any load of enrollments wait, until the test releases it."""
    conn = psycopg.connect(database_url)
    conn.execute("LOCK TABLE enrollments IN SHARE ROW EXCLUSIVE MODE")
    yield conn
    conn.rollback()
    conn.close()


def _wait_for_blocked_load(db: Engine, run_id: uuid.UUID) -> None:
    def blocked() -> bool:
        with db.connect() as conn:
            phase = conn.execute(text("SELECT phase FROM sis_sync_runs WHERE id = :r"), {"r": run_id}).scalar()
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE '%MERGE INTO enrollments%'"
                )
            ).scalar_one()
        return phase == "load:enrollment" and waiting > 0

    wait_until(blocked, timeout=120, interval=0.05, what="the load of enrollments to block")


def _isolated(e2e_settings: Settings, **update: object) -> Settings:
    # its own queues, so the session's worker does not pick these runs up
    return e2e_settings.model_copy(update={"redis_namespace": f"sis-test-{uuid.uuid4().hex[:8]}", **update})


def test_a_worker_killed_mid_load_is_redelivered_and_the_run_finishes_without_duplicates(
    db: Engine,
    e2e_settings: Settings,
    s_package: Path,
    s_tier: District,
    log_dir: Path,
    blocked_enrollments: psycopg.Connection,
) -> None:
    settings = _isolated(e2e_settings)
    provider_id = _provider(db, settings, s_package)
    first = start_worker(settings, log_dir, threads=2)
    syncs = Syncs(settings, db)
    second: ServiceProcess | None = None
    try:
        run_id = syncs.start(provider_id)
        _wait_for_blocked_load(db, run_id)

        first.kill()
        blocked_enrollments.rollback()
        second = start_worker(settings, log_dir, threads=2)
        run = syncs.wait(run_id, timeout=180)
    finally:
        syncs.close()
        first.stop()
        if second is not None:
            second.stop()

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    expected = s_tier.counts()
    counts = store_counts(db, "district-1")
    assert counts == {table: (expected[entity], 0) for entity, table in TABLES.items()}
    with db.connect() as conn:
        for entity, table in TABLES.items():
            # one link per external id, one row per link: a redelivered load re-created nothing
            links = conn.execute(
                text(
                    "SELECT count(*) AS links, count(DISTINCT external_id) AS ids, "
                    "count(DISTINCT entity_id) AS entities FROM sis_entity_links "
                    "WHERE provider_id = :p AND entity_type = :e"
                ),
                {"p": provider_id, "e": entity.value},
            ).one()
            rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            assert (links.links, links.ids, links.entities, rows) == (expected[entity],) * 4, entity
    assert request(db, provider_id).created  # the provider is free again


def test_a_worker_killed_for_good_ends_the_run_failure_when_its_lease_expires(
    db: Engine, e2e_settings: Settings, s_package: Path, log_dir: Path, blocked_enrollments: psycopg.Connection
) -> None:
    settings = _isolated(e2e_settings, sync_lock_timeout=8_000, scheduler_tick_seconds=0.5)
    provider_id = _provider(db, settings, s_package)
    worker = start_worker(settings, log_dir, threads=2)
    syncs = Syncs(settings, db)
    try:
        run_id = syncs.start(provider_id)
        _wait_for_blocked_load(db, run_id)
        worker.kill()
        blocked_enrollments.rollback()
        # no worker comes back: the scheduler's reaper ends the run once the lease runs out
        scheduler = ServiceProcess(
            args=["scheduler"], env=process_env(settings), log_path=log_dir / "scheduler.log"
        ).start()
        try:
            run = syncs.wait(run_id, timeout=60)
        finally:
            scheduler.stop()
    finally:
        syncs.close()
        worker.stop()

    assert run["status"] == SyncStatus.FAILURE
    assert "Abandoned" in run["error_message"]
    assert "phase load:enrollment" in run["error_message"]
    assert store_counts(db, "district-1")["enrollments"] == (0, 0)
    assert request(db, provider_id).created


def test_a_frozen_worker_loses_its_run_and_its_slot_within_the_lease(
    db: Engine,
    e2e_settings: Settings,
    s_package: Path,
    small_package: Path,
    log_dir: Path,
    blocked_enrollments: psycopg.Connection,
) -> None:
    # one slot: the other district's run can only start once the frozen run lets go of it
    lease_seconds, tick = 10, 0.5
    settings = _isolated(
        e2e_settings, sync_lock_timeout=lease_seconds * 1000, scheduler_tick_seconds=tick, max_concurrent_syncs=1
    )
    frozen_provider = _provider(db, settings, s_package)
    other_provider = _provider(db, settings, small_package, tenant="district-2")
    frozen = start_worker(settings, log_dir, threads=2)
    syncs = Syncs(settings, db)
    scheduler = ServiceProcess(args=["scheduler"], env=process_env(settings), log_path=log_dir / "scheduler.log")
    second: ServiceProcess | None = None
    try:
        run_id = syncs.start(frozen_provider)
        _wait_for_blocked_load(db, run_id)
        # frozen inside its load transaction: the statement finishes, the transaction stays open
        os.killpg(frozen.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        blocked_enrollments.rollback()
        second = start_worker(settings, log_dir, threads=2)
        scheduler.start()
        other = syncs.wait(syncs.start(other_provider), timeout=120)
        slot_freed_after = time.monotonic() - frozen_at
        frozen_run = syncs.wait(run_id, timeout=60)
        stored = store_counts(db, "district-1")

        os.killpg(frozen.pid, signal.SIGCONT)
        # the resumed worker finds its session ended by Postgres, and its run no longer its own
        wait_until(lambda: "OperationalError" in frozen.output(), timeout=60, what="the resumed worker to fail")
        assert store_counts(db, "district-1") == stored
        assert run_row(db, run_id)["status"] == frozen_run["status"]
    finally:
        if frozen.alive():
            os.killpg(frozen.pid, signal.SIGCONT)
        syncs.close()
        scheduler.stop()
        frozen.stop()
        if second is not None:
            second.stop()

    assert other["status"] == SyncStatus.SUCCESS, other["error_message"]
    # worker startup and the other run's own sync come on top of lease plus tick
    assert slot_freed_after < lease_seconds + tick + 30
    assert frozen_run["status"] in (SyncStatus.SUCCESS, SyncStatus.FAILURE)


def test_cancel_of_a_running_sync_applies_nothing_after_the_cancel(
    syncs: Syncs, db: Engine, e2e_settings: Settings, s_package: Path, blocked_enrollments: psycopg.Connection
) -> None:
    provider_id = _provider(db, e2e_settings, s_package)
    run_id = syncs.start(provider_id)
    _wait_for_blocked_load(db, run_id)

    with db.begin() as conn:
        cancel = runs.request_cancel(conn, run_id, requested_by="admin")
    assert cancel is not None
    assert cancel.notify_workers
    syncs.send(cancel_sync(run_id))
    run = syncs.wait(run_id, timeout=60)
    blocked_enrollments.rollback()

    assert run["status"] == SyncStatus.CANCELLED
    # the blocked load resumes, finds its run cancelled at the fence, and rolls back
    wait_until(lambda: _load_settled(db), timeout=60, what="the cancelled load to roll back")
    counts = store_counts(db, "district-1")
    assert counts["users"][0] > 0  # applied before the cancel
    assert counts["enrollments"] == (0, 0)  # nothing after it
    assert request(db, provider_id).created


def test_cancel_of_a_pending_run_ends_it_before_it_starts(
    syncs: Syncs, db: Engine, e2e_settings: Settings, small_package: Path
) -> None:
    provider_id = _provider(db, e2e_settings, small_package)
    run_id = request(db, provider_id).run_id  # requested, not started
    with db.begin() as conn:
        cancel = runs.request_cancel(conn, run_id, requested_by="admin")
    assert cancel is not None
    assert cancel.status is SyncStatus.CANCELLED
    syncs.send(start_sync(run_id))
    run = syncs.wait(run_id, timeout=30)
    assert run["status"] == SyncStatus.CANCELLED
    assert run["started_at"] is None
    assert store_counts(db, "district-1")["users"] == (0, 0)


def _load_settled(db: Engine) -> bool:
    with db.connect() as conn:
        active = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE '%MERGE INTO enrollments%' AND state <> 'idle' AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    return active == 0
