"""What a benchmark syncs through: Postgres, Redis, a fresh database and one real worker.

DATABASE_URL / REDIS_URL from the environment when set, else embedded servers under .data/bench.
The database is created for the run and dropped afterwards; the worker is `sis-sync worker`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis as redis_lib
from sqlalchemy import Engine, make_url, text

from libs.db import migrate
from libs.db.crypto import ConfigCipher, generate_key
from libs.db.engine import make_engine
from libs.db.settings import decode_key
from libs.enums import FINAL_STATUSES, ProviderType, SyncMode, SyncTrigger
from libs.etl import runs
from libs.queue import messages
from libs.queue.broker import build_broker


@dataclass
class Stack:
    data_dir: Path
    server_url: str = ""
    redis_url: str = ""
    database_url: str = ""
    namespace: str = field(default_factory=lambda: f"sis-bench-{uuid.uuid4().hex[:8]}")
    key: str = field(default_factory=generate_key)
    worker: subprocess.Popen[bytes] | None = None
    engine: Engine | None = None
    _embedded: list[Any] = field(default_factory=list)
    _database: str = field(default_factory=lambda: f"sis_bench_{uuid.uuid4().hex[:10]}")

    def start(self) -> Stack:
        self.server_url = os.environ.get("DATABASE_URL", "")
        self.redis_url = os.environ.get("REDIS_URL", "")
        if not self.server_url:
            from libs.embedded.postgres import EmbeddedPostgres

            postgres = EmbeddedPostgres(self.data_dir / "postgres")
            self._embedded.append(postgres)
            self.server_url = postgres.url("postgres")
        if not self.redis_url:
            from libs.embedded.redis import EmbeddedRedis

            server = EmbeddedRedis(self.data_dir / "redis")
            self._embedded.append(server)
            self.redis_url = server.url
        with psycopg.connect(self.server_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self._database}"')
        self.database_url = make_url(self.server_url).set(database=self._database).render_as_string(False)
        migrate.upgrade(self.database_url)
        self.engine = make_engine(self.database_url, application_name="sis-sync-bench")
        self._start_worker()
        return self

    def env(self) -> dict[str, str]:
        assert self.engine is not None
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_NAMESPACE": self.namespace,
            "APP_ENV": "test",
            "CONFIG_ENCRYPTION_KEYS": self.key,
            "AUTH_JWT_SECRET": "bench-" + "x" * 40,
            "ALLOW_LOCAL_CSV_PATHS": "true",
            "DATA_DIR": str(self.data_dir),
            "LOG_LEVEL": "warning",
        }

    def _start_worker(self) -> None:
        log = (self.data_dir / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "worker", "--processes", "1", "--threads", "4"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = redis_lib.Redis.from_url(self.redis_url)
        key = f"{self.namespace}:dramatiq:__heartbeats__"
        deadline = time.monotonic() + 60
        while not client.zcard(key):
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; see {self.data_dir / 'worker.log'}")
            time.sleep(0.1)
        client.close()

    def create_provider(self, provider_type: ProviderType, config: dict[str, Any]) -> uuid.UUID:
        assert self.engine is not None
        provider_id = uuid.uuid4()
        sealed = ConfigCipher([decode_key(self.key)]).encrypt(config, provider_id=str(provider_id))
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sis_providers (id, tenant_id, provider_type, name, config_ciphertext) "
                    "VALUES (:id, :t, :type, :name, :c)"
                ),
                {
                    "id": provider_id,
                    "t": f"bench-{provider_type.value.lower()}",
                    "type": provider_type.value,
                    "name": f"bench {provider_type.value}",
                    "c": sealed,
                },
            )
        return provider_id

    def sync(self, provider_id: uuid.UUID, timeout: float = 3600) -> dict[str, Any]:
        """Request a full sync the way the API does and wait for it to finish."""
        assert self.engine is not None
        with self.engine.begin() as conn:
            requested = runs.request_run(
                conn, provider_id, trigger=SyncTrigger.MANUAL, requested_by="bench", mode=SyncMode.FULL
            )
        broker = build_broker(self._settings())
        messages.send([messages.start_sync(requested.run_id)], broker=broker)
        broker.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text("SELECT status, stats, timings, error_message FROM sis_sync_runs WHERE id = :r"),
                    {"r": requested.run_id},
                ).one()
            if row.status in FINAL_STATUSES:
                return {"status": row.status, "stats": row.stats, "timings": row.timings, "error": row.error_message}
            time.sleep(0.2)
        raise TimeoutError(f"run {requested.run_id} did not finish in {timeout:.0f}s")

    def _settings(self) -> Any:
        from libs.db.settings import load_settings

        env = self.env()
        return load_settings(
            database_url=env["DATABASE_URL"],
            redis_url=self.redis_url,
            redis_namespace=self.namespace,
            app_env="test",
            config_encryption_keys=self.key,
            auth_jwt_secret=env["AUTH_JWT_SECRET"],
            data_dir=self.data_dir,
        )

    def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait()
        if self.engine is not None:
            self.engine.dispose()
        if self.server_url:
            with psycopg.connect(self.server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
        for server in reversed(self._embedded):
            server.stop()
