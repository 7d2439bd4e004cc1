"""`sis-sync demo` end to end: simulators, a seeded tenant, first syncs, the UI link, and Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from libs.auth import mint_token
from libs.db.settings import Settings
from libs.harness.processes import wait_until
from services.demo.seed import TENANT
from services.demo.seeders import available

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_demo_seeds_a_tenant_syncs_every_source_prints_the_link_and_stops_on_ctrl_c(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    secret = "demo-test-secret-" + "y" * 32
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": str(settings.database_url),
        "REDIS_URL": str(settings.redis_url),
        "REDIS_NAMESPACE": f"{settings.redis_namespace}-demo",
        "APP_ENV": "development",
        "AUTH_JWT_SECRET": secret,
        "CONFIG_ENCRYPTION_KEYS": ",".join(settings.config_encryption_keys),
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "warning",
        "SCHEDULER_TICK_SECONDS": "1",
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "demo", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    try:

        def link() -> str | None:
            if demo.poll() is not None:
                raise AssertionError(f"the demo exited {demo.returncode}:\n{log.read_text()[-3000:]}")
            match = re.search(r"(http://\S+/integrations/sis/login#token=\S+)", log.read_text())
            return match.group(1) if match else None

        login = wait_until(link, timeout=180, interval=0.5, what="the demo's login link")
        assert login.startswith(f"http://localhost:{port}/integrations/sis/login#token=")
        assert httpx.get(login.split("#")[0].replace("localhost", "127.0.0.1")).status_code == 200

        token = mint_token(secret, subject="test", roles=["DISTRICT_ADMIN"], tenant_id=TENANT)
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"})
        providers = api.get(f"/api/v1/tenants/{TENANT}/providers").json()["providers"]
        # one provider per source: this build simulates every provider type
        assert sorted((p["providerType"], p["name"]) for p in providers) == [
            ("CLASSLINK", "ClassLink (simulated)"),
            ("CLEVER", "Clever (simulated)"),
            ("ONEROSTER_API", "OneRoster API (simulated)"),
            ("ONEROSTER_CSV", "OneRoster CSV (local folder)"),
            ("ONEROSTER_CSV", "OneRoster CSV on SFTP (simulated)"),
        ]
        assert len(providers) == len(available())

        def finished() -> list[str] | None:
            statuses = [api.get(f"/api/v1/providers/{p['id']}/sync/status").json() for p in providers]
            if any(s["isRunning"] or s["lastStatus"] is None for s in statuses):
                return None
            return [s["lastStatus"] for s in statuses]

        statuses = wait_until(finished, timeout=300, interval=1, what="the first syncs of the demo")
        assert statuses == ["SUCCESS"] * len(providers), log.read_text()[-3000:]
        sftp_ports = [p["config"]["sftp"]["port"] for p in providers if "sftp" in p["config"]]
        assert sftp_ports
        assert all(_listening(p) for p in sftp_ports)
        api.close()

        # Ctrl-C: every process, simulator and server stops
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=90) == 0, log.read_text()[-3000:]
        wait_until(
            lambda: not _listening(port) and not any(_listening(p) for p in sftp_ports),
            timeout=10,
            what="the demo's ports to close",
        )
        assert "stopping the demo" in log.read_text()
    finally:
        if demo.poll() is None:
            # Ctrl-C first: a killed demo would leave its api, worker and scheduler running
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=90)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
