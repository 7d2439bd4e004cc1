"""`sis-sync simulate clever`: a real process on a real port whose printed config connects."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from libs.connectors.base import ConnectorContext
from libs.connectors.registry import build_connector
from libs.enums import ProviderType
from tests.support.egress import LOCAL
from tests.support.workers import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_simulate_command_serves_a_district_that_the_printed_config_connects_to(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "clever.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "simulate", "clever", "--size", "S", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:

        def printed_config() -> dict[str, str] | None:
            if process.poll() is not None:
                raise AssertionError(f"the simulator exited {process.returncode}:\n{log.read_text()}")
            for line in log.read_text().splitlines():
                if line.startswith("provider config: "):
                    return dict(json.loads(line.removeprefix("provider config: ")))
            return None

        config = wait_until(printed_config, timeout=120, interval=0.2, what="the simulator's provider config")
        assert config["apiUrl"] == f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{config['apiUrl']}/v3.0/districts").status_code == 401
            except httpx.TransportError:
                return False

        # no token: Clever's 401, from the real socket
        wait_until(answers, timeout=30, interval=0.2, what="the simulator's port")
        connector = build_connector(ProviderType.CLEVER, config, ConnectorContext(provider_id="cli-test", egress=LOCAL))
        try:
            result = connector.test_connection()
        finally:
            connector.close()
        assert result.success, result.message
        assert result.message.startswith("Successfully connected to Clever")
        assert "Clever simulator: S district ready" in log.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
