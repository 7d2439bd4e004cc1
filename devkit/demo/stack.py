"""Starts and stops the demo: embedded Postgres/Redis (when not configured), migrations, and the
api, worker and scheduler processes. Ctrl-C stops everything it started, servers included."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from devkit.demo.seeders import Source, stop_sources
from devkit.embedded.postgres import EmbeddedPostgres
from devkit.embedded.redis import EmbeddedRedis
from libs.db import migrate
from libs.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class DemoStack:
    settings: Settings
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    env: dict[str, str] = field(default_factory=dict)
    sources: list[Source] = field(default_factory=list)

    def start_servers(self) -> None:
        data_dir = self.settings.data_dir
        database_url = self.settings.database_url
        redis_url = self.settings.redis_url
        if database_url is None:
            print(f"DATABASE_URL not set: starting an embedded Postgres in {data_dir / 'postgres'}")
            self.postgres = EmbeddedPostgres(data_dir / "postgres")
            database_url = self.postgres.ensure_database("sis_sync")
        if redis_url is None:
            print(f"REDIS_URL not set: starting an embedded Redis in {data_dir / 'redis'}")
            self.redis = EmbeddedRedis(data_dir / "redis")
            redis_url = self.redis.url
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "APP_ENV": self.settings.app_env.value,
            "DATA_DIR": str(data_dir.resolve()),
            # the demo's "local folder" provider reads a package under DATA_DIR
            "ALLOW_LOCAL_CSV_PATHS": "true",
            # one demo district with a provider per kind of source: let its first syncs share
            # the slots, unless the caller chose otherwise
            "MAX_CONCURRENT_SYNCS_PER_TENANT": os.environ.get(
                "MAX_CONCURRENT_SYNCS_PER_TENANT", str(self.settings.max_concurrent_syncs)
            ),
            # the demo's worker serves no metrics port unless asked (the API's /metrics is there)
            "WORKER_METRICS_PORT": os.environ.get("WORKER_METRICS_PORT", "0"),
        }
        print("migrating the database")
        migrate.upgrade(database_url)

    def spawn(self, name: str, *args: str) -> None:
        # each child in its own process group: Ctrl-C reaches us once, and we stop them in order
        self.processes[name] = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "services.cli", *args], env=self.env, start_new_session=True
        )

    def start_processes(self, *, port: int) -> None:
        self.spawn("api", "api", "--host", "127.0.0.1", "--port", str(port))
        self.spawn("worker", "worker", "--processes", "1", "--threads", "4")
        self.spawn("scheduler", "scheduler")
        self.wait_healthy(f"http://127.0.0.1:{port}/readyz")

    def wait_healthy(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_running()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{url} did not become ready within {timeout:.0f}s")

    def wait(self) -> None:
        while True:
            self._check_running()
            time.sleep(0.5)

    def _check_running(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"the {name} process exited with code {proc.returncode}")

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()
        stop_sources(self.sources)
        self.sources = []
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
