"""Real `sis-sync worker` (and scheduler) processes, and runs requested and awaited like the API does
(the tests and `make bench`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, text

from libs.enums import FINAL_STATUSES, SyncMode, SyncTrigger
from libs.etl import runs
from libs.etl.details import RunOptions
from libs.etl.phase import Next, start_sync
from libs.redis_client import probe
from libs.settings import Settings
from services.queue.broker import build_broker
from services.queue.send import send


def process_env(settings: Settings, **overrides: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        {
            "DATABASE_URL": str(settings.database_url),
            "REDIS_URL": str(settings.redis_url),
            "REDIS_NAMESPACE": settings.redis_namespace,
            "APP_ENV": "test",
            "CONFIG_ENCRYPTION_KEYS": ",".join(settings.config_encryption_keys),
            "AUTH_JWT_SECRET": settings.auth_jwt_secret or "",
            "ALLOW_LOCAL_CSV_PATHS": "true",
            "DATA_DIR": str(settings.data_dir),
            "MAX_CONCURRENT_SYNCS": str(settings.max_concurrent_syncs),
            "MAX_CONCURRENT_SYNCS_PER_TENANT": str(settings.max_concurrent_syncs_per_tenant),
            "SYNC_LOCK_TIMEOUT": str(settings.sync_lock_timeout),
            "BROKER_HEARTBEAT_TIMEOUT_MS": str(settings.broker_heartbeat_timeout_ms),
            "BROKER_MAINTENANCE_CHANCE": str(settings.broker_maintenance_chance),
            "SCHEDULER_TICK_SECONDS": str(settings.scheduler_tick_seconds),
            "OUTAGE_GRACE_SECONDS": str(settings.outage_grace_seconds),
            "LOG_LEVEL": "info",
            # many pools run side by side in tests: one that needs its /metrics names a port
            "WORKER_METRICS_PORT": "0",
        }
    )
    env.update({k.upper(): str(v) for k, v in overrides.items()})
    return env


@dataclass
class ServiceProcess:
    """A `sis-sync` subprocess in its own process group, with its output in a log file."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    def start(self) -> ServiceProcess:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, "-m", "services.cli", *self.args],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group: the master and its worker processes die mid-message."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # signal the master only; it forwards to its children (signalling the group twice kills them)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log is not None:
            self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def start_worker(
    settings: Settings, log_dir: Path, *, processes: int = 1, threads: int = 4, shutdown_ms: int = 5000, **env: Any
) -> ServiceProcess:
    worker = ServiceProcess(
        args=["worker", "-p", str(processes), "-t", str(threads), "--shutdown-timeout", str(shutdown_ms)],
        env=process_env(settings, **env),
        log_path=log_dir / f"worker-{uuid.uuid4().hex[:6]}.log",
    ).start()
    key = f"{settings.redis_namespace}:dramatiq:__heartbeats__"
    with probe(settings) as client:
        before = {m for m in client.zrange(key, 0, -1)}

        def ready() -> bool:
            if not worker.alive():
                raise RuntimeError(f"worker exited:\n{worker.output()[-3000:]}")
            return bool(set(client.zrange(key, 0, -1)) - before)

        wait_until(ready, timeout=60, what="the worker to consume")
    return worker


class Syncs:
    """Requests runs the way the API does (commit, then send) and waits for them to finish."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.broker = build_broker(settings)

    def send(self, *out: Next) -> None:
        send(out, broker=self.broker)

    def start(
        self, provider_id: uuid.UUID, *, mode: SyncMode = SyncMode.FULL, options: dict[str, Any] | None = None
    ) -> uuid.UUID:
        with self.engine.begin() as conn:
            requested = runs.request_run(
                conn,
                provider_id,
                trigger=SyncTrigger.MANUAL,
                requested_by="devkit",
                mode=mode,
                options=RunOptions.model_validate(options or {}),
            )
        if requested.created:
            self.send(start_sync(requested.run_id))
        return requested.run_id

    def wait(self, run_id: uuid.UUID, *, timeout: float = 180) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            with self.engine.connect() as conn:
                row = conn.execute(text("SELECT * FROM sis_sync_runs WHERE id = :r"), {"r": run_id}).one()
            return dict(row._mapping) if row.status in FINAL_STATUSES else None

        return cast(dict[str, Any], wait_until(finished, timeout=timeout, interval=0.1, what=f"run {run_id} to finish"))

    def run(self, provider_id: uuid.UUID, *, timeout: float = 180, **kwargs: Any) -> dict[str, Any]:
        return self.wait(self.start(provider_id, **kwargs), timeout=timeout)

    def close(self) -> None:
        self.broker.close()
