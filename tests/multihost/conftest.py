"""The multi-host cluster: host A (Postgres, Redis, the SIS simulator, API, scheduler) and worker
hosts B and C, each a network namespace (see hosts.py). Host C's clock runs two minutes behind.

Root and `ip netns` are needed: elsewhere the module skips, but under CI (CI=true) a missing
capability is a failure, never a silent skip. `make test-multihost` runs it; `make test` leaves
it out (the `multihost` marker, deselected in pyproject.toml's addopts).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from libs.db.crypto import generate_key
from libs.db.engine import make_engine
from libs.redis_client import probe
from libs.settings import Settings, load_settings
from tests.multihost.hosts import (
    API_PORT,
    PG_PORT,
    PREFIX,
    REDIS_PORT,
    SFTP_PORT,
    SIM_PORT,
    SUBNET,
    Host,
    Network,
    cli,
    netns_available,
    postgres_bin,
    sh,
    wait_for,
    worker_host_argv,
)
from tests.support.workers import Syncs

ROOT = Path(__file__).resolve().parents[2]
# the lease the run must finish within after a host dies; short, so the test proves it quickly
LEASE_MS = 90_000
CLOCK_OFFSET_SECONDS = -120.0
SKEWED_CLOCK = Path(__file__).with_name("skewed_clock")  # its sitecustomize moves the clock
SKEWED = "c"
HOST_TMP = "/tmp"  # noqa: S108 - a worker host's private tmpfs


@dataclass
class Cluster:
    hosts: dict[str, Host]
    settings: Settings  # the test process's view: Unix sockets of host A's Postgres and Redis
    remote_env: dict[str, str]  # what every host's processes get: host A's addresses
    db: Engine
    syncs: Syncs
    logs: Path
    clean_run_id: uuid.UUID | None = None
    clean_run_log: list[str] = field(default_factory=list)  # the worker hosts' lines of the clean run
    sftp_config: dict[str, object] = field(default_factory=dict)  # a ONEROSTER_CSV config for host A's SFTP drop

    @property
    def a(self) -> Host:
        return self.hosts["a"]

    def start_workers(self, host: str) -> None:
        worker = self.hosts[host]
        argv = cli("worker", "--processes", "1", "--threads", "2", "--shutdown-timeout", "5000")
        before = self.live_workers()
        worker.start("worker", worker_host_argv(worker.hostname, argv), env=self.host_env(host))
        wait_for(lambda: self.live_workers() > before, timeout=90, what=f"{worker.hostname}'s worker to consume")

    def host_env(self, host: str) -> dict[str, str]:
        """A worker host's environment: host A's addresses, and HOME, TMPDIR and DATA_DIR inside
        its own tmpfs (hosts.worker_host_argv), not the test machine's /tmp; C's clock is off."""
        env = dict(self.remote_env, HOME=f"{HOST_TMP}/home", TMPDIR=HOST_TMP, DATA_DIR=f"{HOST_TMP}/data")
        if host == SKEWED:
            env["PYTHONPATH"] = f"{SKEWED_CLOCK}{os.pathsep}{env['PYTHONPATH']}"
            env["SIS_CLOCK_OFFSET_SECONDS"] = str(CLOCK_OFFSET_SECONDS)
        return env

    def live_workers(self) -> int:
        """Worker processes whose broker heartbeat is fresh (by Redis's clock, which they stamp with)."""
        with probe(self.settings) as client:
            seconds, micros = client.time()
            now_ms = int(seconds) * 1000 + int(micros) // 1000
            key = f"{self.settings.redis_namespace}:dramatiq:__heartbeats__"
            return int(client.zcount(key, now_ms - 3_000, "+inf"))

    def base_url(self) -> str:
        return f"http://{self.a.address}:{SIM_PORT}/ims/oneroster/v1p1"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    reason = netns_available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the multi-host test must run in CI: {reason}")
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="sis-multihost-"))
    base.chmod(0o755)  # the postgres user walks into it
    logs = base / "logs"
    logs.mkdir()
    network = Network(f"sismh{os.getpid() % 100000}", logs)
    cluster: Cluster | None = None
    try:
        cluster = _start(network, base, logs)
        yield cluster
    finally:
        if cluster is not None:
            cluster.syncs.close()
            cluster.db.dispose()
        network.destroy()
        if os.environ.get("SIS_MULTIHOST_KEEP_LOGS"):
            print(f"multi-host logs kept in {logs}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def _start(network: Network, base: Path, logs: Path) -> Cluster:
    hosts = network.build(["a", "b", "c"])
    a = hosts["a"]
    pg_socket, pg_data = base / "pg-socket", base / "pg-data"
    for folder in (pg_socket, pg_data):
        folder.mkdir()
        shutil.chown(folder, "postgres", "postgres")
    bin_dir = postgres_bin()
    assert bin_dir is not None
    # Postgres refuses to run as root: its own user, as on any database host
    sh("runuser", "-u", "postgres", "--", str(bin_dir / "initdb"), "-D", str(pg_data), "-A", "trust", "-U", "postgres")
    with (pg_data / "pg_hba.conf").open("a") as hba:
        # the other hosts, over the test subnet only
        hba.write(f"host all all {SUBNET}.0/{PREFIX} trust\n")
    a.start(
        "postgres",
        [
            "runuser", "-u", "postgres", "--", str(bin_dir / "postgres"), "-D", str(pg_data),
            "-c", f"listen_addresses={a.address}", "-c", f"port={PG_PORT}",
            "-c", f"unix_socket_directories={pg_socket}", "-c", "fsync=off", "-c", "max_connections=200",
        ],
    )  # fmt: skip
    local_pg = f"host={pg_socket} port={PG_PORT} user=postgres"
    wait_for(lambda: _pg_answers(local_pg), timeout=60, what="host A's Postgres")
    with psycopg.connect(f"{local_pg} dbname=postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE sis")
    redis_socket = base / "redis.sock"
    (base / "redis").mkdir()
    a.start(
        "redis",
        [
            "redis-server", "--bind", a.address, "--port", str(REDIS_PORT), "--protected-mode", "no",
            "--unixsocket", str(redis_socket), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(base / "redis"),
        ],
    )  # fmt: skip
    wait_for(redis_socket.exists, timeout=30, what="host A's Redis")

    keys = generate_key()
    namespace = f"sis-mh-{uuid.uuid4().hex[:6]}"
    remote_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"postgresql://postgres@{a.address}:{PG_PORT}/sis",
        "REDIS_URL": f"redis://{a.address}:{REDIS_PORT}/0",
        "REDIS_NAMESPACE": namespace,
        # production, as a real deployment runs; the SIS sits on a private address (host A),
        # which the egress policy lets through only because the operator names its subnet
        "APP_ENV": "production",
        "LOG_FORMAT": "text",
        "CONFIG_ENCRYPTION_KEYS": keys,
        "AUTH_JWT_SECRET": "multihost-" + "x" * 40,
        "PROVIDER_EGRESS_ALLOW": f"{a.address}/32",
        "SYNC_LOCK_TIMEOUT": str(LEASE_MS),
        # a dead host's unacknowledged messages go to a live one within seconds
        "BROKER_HEARTBEAT_TIMEOUT_MS": "5000",
        "BROKER_MAINTENANCE_CHANCE": "1000000",
        "MAX_CONCURRENT_SYNCS": "2",
        "SCHEDULER_TICK_SECONDS": "1",
        "LOG_LEVEL": "info",
    }
    a.run(*cli("migrate"), env=dict(remote_env, DATA_DIR=str(base / "a-data")))
    simulate = cli("simulate", "oneroster", "--host", a.address, "--port", str(SIM_PORT), "--latency-ms", "30")
    a.start("simulator", simulate)
    # the same district as a OneRoster CSV package on an SFTP drop: each extract step downloads it
    # into its own host's DATA_DIR
    sftp = ["simulate", "sftp", "--size", "S", "--host", a.address, "--port", str(SFTP_PORT)]
    a.start("sftp", cli(*sftp, "--password", "multihost-sftp", "--out", str(base / "sftp")))
    api_env = dict(remote_env, HOST=a.address, PORT=str(API_PORT), DATA_DIR=str(base / "a-data"))
    a.start("api", cli("api"), env=api_env)
    a.start("scheduler", cli("scheduler"), env=dict(remote_env, DATA_DIR=str(base / "a-data")))
    wait_for(lambda: _http_ok(a, f"http://{a.address}:{API_PORT}/readyz"), timeout=90, what="host A's API")
    wait_for(lambda: _http_ok(a, f"http://{a.address}:{SIM_PORT}/_sim/stats"), timeout=120, what="the SIS simulator")

    sftp_config = wait_for(lambda: _printed_config(a.output("sftp")), timeout=120, what="the SFTP drop")
    settings = load_settings(
        database_url=f"postgresql://postgres@/sis?host={pg_socket}&port={PG_PORT}",
        redis_url=f"unix://{redis_socket}",
        redis_namespace=namespace,
        app_env="test",
        config_encryption_keys=keys,
        auth_jwt_secret=remote_env["AUTH_JWT_SECRET"],
        data_dir=base / "test-data",
    )
    assert settings.database_url is not None
    db = make_engine(settings.database_url)
    cluster = Cluster(hosts, settings, remote_env, db, Syncs(settings, db), logs, sftp_config=sftp_config)
    for worker in ("b", "c"):
        cluster.start_workers(worker)
    return cluster


def _printed_config(output: str) -> dict[str, object] | None:
    if "Press Ctrl-C" not in output:
        return None
    printed = output.split("provider config (ONEROSTER_CSV):", 1)[1].split("Press Ctrl-C", 1)[0]
    config: dict[str, object] = json.loads(printed)
    return config


def _pg_answers(conninfo: str) -> bool:
    try:
        with psycopg.connect(f"{conninfo} dbname=postgres", connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _http_ok(host: Host, url: str) -> bool:
    try:
        host.run("curl", "-sf", "-o", "/dev/null", "--max-time", "3", url, timeout=10)
    except (RuntimeError, subprocess.TimeoutExpired):
        return False
    return True
