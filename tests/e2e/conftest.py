"""End-to-end: a real Redis broker and real `sis-sync worker` processes on real Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from libs.settings import Settings
from tests.support.workers import ServiceProcess, Syncs, start_worker

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def e2e_settings(settings: Settings) -> Settings:
    # fast redelivery of a dead worker's messages, so crash tests finish in seconds
    return settings.model_copy(update={"broker_heartbeat_timeout_ms": 2_000, "broker_maintenance_chance": 1_000_000})


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def worker(e2e_settings: Settings, log_dir: Path) -> Iterator[ServiceProcess]:
    process = start_worker(e2e_settings, log_dir, threads=4)
    yield process
    process.stop()


@pytest.fixture
def syncs(e2e_settings: Settings, db: Engine, worker: ServiceProcess) -> Iterator[Syncs]:
    helper = Syncs(e2e_settings, db)
    yield helper
    helper.close()
    assert worker.alive(), worker.output()[-3000:]
