"""Shared fixtures: real Postgres and Redis for everything that touches them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import Engine

from libs.db.crypto import generate_key
from libs.db.engine import dispose_engines, make_engine
from libs.settings import Settings, load_settings
from tests.support.database import fresh_database, truncate_all
from tests.support.servers import postgres_server, redis_server

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _worker_label() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url, _worker_label()) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def redis_namespace() -> str:
    # each session (and xdist worker) gets its own key space on the shared server
    return f"sis-test-{_worker_label()}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def encryption_keys() -> list[str]:
    return [generate_key(), generate_key()]


@pytest.fixture(scope="session")
def settings(
    database_url: str,
    redis_url: str,
    redis_namespace: str,
    encryption_keys: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return load_settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_namespace=redis_namespace,
        app_env="test",
        config_encryption_keys=",".join(encryption_keys[:1]),
        auth_jwt_secret="test-secret-" + "x" * 40,
        data_dir=tmp_path_factory.mktemp("data"),
        allow_local_csv_paths=True,
    )


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()
    dispose_engines()


@pytest.fixture
def db(engine: Engine, database_url: str) -> Engine:
    """A database with no rows in any table the service writes."""
    truncate_all(database_url)
    return engine


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared reference data is not at {SHARED_DATA} (a fresh clone has no ../shared)")
    return SHARED_DATA
