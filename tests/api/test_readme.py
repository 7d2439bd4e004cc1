"""The README's `sis-sync token` + curl examples, run as written against a live `sis-sync api`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from libs.settings import Settings
from tests.support.workers import wait_until

README = Path(__file__).resolve().parents[2] / "README.md"

# registers the stand-in connectors for provider types this build does not have yet, then
# starts the API exactly as `sis-sync api` does
LAUNCHER = """
import sys
from libs.connectors import registry
from tests.api.fake_connectors import TARGETS
for provider_type, target in TARGETS.items():
    if provider_type not in registry.supported_types():
        registry.register(provider_type, target)
from services.cli import main
sys.exit(main(["api"]))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _api_example() -> str:
    section = README.read_text().split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README's API section has no bash example"
    return match.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_token_and_curl_examples_work_as_written(db: Engine, settings: Settings, tmp_path: Path) -> None:
    port = _free_port()
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_NAMESPACE": settings.redis_namespace,
        "APP_ENV": "test",
        "CONFIG_ENCRYPTION_KEYS": ",".join(settings.config_encryption_keys),
        "AUTH_JWT_SECRET": settings.auth_jwt_secret or "",
        "DATA_DIR": str(settings.data_dir),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "debug",
        "PYTHONPATH": str(README.parent),
    }
    log_path = tmp_path / "api.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-c", LAUNCHER], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:

            def up() -> bool:
                assert server.poll() is None, log_path.read_text()
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(up, timeout=30, what="the API to answer")
            script = _api_example().replace("localhost:3000", f"127.0.0.1:{port}")
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            server.terminate()
            server.wait(timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"providers":[{' in out
    assert '"syncSchedule":"0 6 * * 1-5"' in out
    assert '"status":"PENDING"' in out
    assert '"status":"CANCELLED"' in out
    assert '"nextRuns":[' in out
    assert "my-secret" not in out
    server_log = log_path.read_text()
    assert "Uvicorn running" in server_log or "Application startup complete" in server_log
    assert "my-secret" not in server_log
