"""Three real scheduler processes on one database fire each due provider exactly once."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, text

from libs.settings import Settings
from tests.support.workers import wait_until

PROVIDERS = 150
REPLICAS = 3


def _env(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_NAMESPACE": settings.redis_namespace + "-replicas",
        "APP_ENV": "test",
        "CONFIG_ENCRYPTION_KEYS": ",".join(settings.config_encryption_keys),
        "AUTH_JWT_SECRET": settings.auth_jwt_secret or "",
        "DATA_DIR": str(settings.data_dir),
        "SCHEDULER_TICK_SECONDS": "0.05",
        "MAX_CONCURRENT_SYNCS": "1000",
        "LOG_LEVEL": "info",
    }


def test_three_schedulers_fire_each_due_provider_exactly_once(db: Engine, settings: Settings, tmp_path: Path) -> None:
    logs = [tmp_path / f"scheduler-{i}.log" for i in range(REPLICAS)]
    files = [log.open("w") for log in logs]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "services.cli", "scheduler"], env=_env(settings), stdout=subprocess.DEVNULL, stderr=f
        )
        for f in files
    ]
    try:
        wait_until(
            lambda: all("scheduler started" in log.read_text() for log in logs),
            timeout=30,
            what="the schedulers to start",
        )
        # all due at the same instant, while every replica is ticking
        with db.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sis_providers (id, tenant_id, provider_type, name, config_ciphertext, "
                    "sync_schedule, schedule_timezone, next_run_at) "
                    "SELECT gen_random_uuid(), 'district-' || g, 'CLEVER', 'p', '\\x00', '0 3 * * *', "
                    "'America/Chicago', now() FROM generate_series(1, :n) g"
                ),
                {"n": PROVIDERS},
            )

        def all_fired() -> bool:
            with db.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM sis_sync_runs")).scalar_one() >= PROVIDERS and (
                    conn.execute(text("SELECT count(*) FROM sis_providers WHERE next_run_at <= now()")).scalar_one()
                    == 0
                )

        wait_until(all_fired, timeout=60, what="every provider to fire")
        time.sleep(0.5)  # a few more ticks by every replica: nothing may fire twice
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=20)
        for f in files:
            f.close()

    with db.connect() as conn:
        per_provider = conn.execute(
            text(
                "SELECT p.id, count(r.id) AS runs FROM sis_providers p "
                "LEFT JOIN sis_sync_runs r ON r.provider_id = p.id GROUP BY p.id"
            )
        ).all()
    assert len(per_provider) == PROVIDERS
    assert {row.runs for row in per_provider} == {1}

    fired_by: collections.Counter[str] = collections.Counter()
    per_process = []
    for log in logs:
        lines = re.findall(r"fired provider (\S+) slot", log.read_text())
        per_process.append(len(lines))
        fired_by.update(lines)
        assert "Traceback" not in log.read_text()
    # each provider was claimed by exactly one replica (SKIP LOCKED), not fired-and-absorbed
    assert len(fired_by) == PROVIDERS
    assert max(fired_by.values()) == 1
    assert "joined run" not in "".join(log.read_text() for log in logs)
    print("fired per replica:", per_process)
