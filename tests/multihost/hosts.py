"""Three hosts made of Linux network namespaces, for the multi-host test.

Host A holds Postgres, Redis, the OneRoster simulator (the SIS), the API and the scheduler;
hosts B and C hold worker pools. A carries a bridge with the subnet's first address; B and C
are veth pairs plugged into it. The subnet exists only inside the namespaces: nothing in the
test machine's own namespace has an address on it, so every byte between hosts stays inside.

A worker host also gets its own UTS namespace (its own hostname, which each step records) and
its own mount namespace with an empty tmpfs on /tmp (its HOME, TMPDIR and DATA_DIR live
there): nothing a worker writes to local disk is visible to another host, and the test
process's own files under /tmp (Postgres's data, the sockets below) are invisible to it.

The test process itself is no host: it reads the database and sends run requests through the
Unix sockets Postgres and Redis also listen on, which no network carries.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

SUBNET = "10.213.21"
PREFIX = 24
PG_PORT = 5432
REDIS_PORT = 6379
SIM_PORT = 8400
SFTP_PORT = 2222
API_PORT = 3000


def netns_available() -> str | None:
    """Why the test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "unshare", "runuser", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not postgres_bin():
        return "no PostgreSQL server binaries under /usr/lib/postgresql"
    probe = f"sis-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False)
    return None


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def sh(*args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Host:
    """One network namespace and the processes the test started in it."""

    name: str  # the namespace
    hostname: str
    address: str
    logs: Path
    processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def start(self, label: str, argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{self.hostname}-{label}.log").open("ab")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append((label, proc, log))
        return proc

    def run(self, *argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        done = subprocess.run(
            ["ip", "netns", "exec", self.name, *argv], env=env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.hostname}: {' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done.stdout

    def pids(self) -> list[int]:
        """Every process in the namespace, whoever started it (the kernel's view, not our list)."""
        out = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False).stdout
        return [int(pid) for pid in out.split()]

    def kill_all(self) -> list[int]:
        """SIGKILL every process of the host at once: the host is gone, mid-whatever."""
        killed = self.pids()
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for _, proc, _ in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        return killed

    def output(self, label: str) -> str:
        path = self.logs / f"{self.hostname}-{label}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop politely (SIGTERM, in reverse start order), then kill whatever is left in the namespace."""
        for _, proc, _ in reversed(self.processes):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=15)
        self.kill_all()
        for _, _, log in self.processes:
            log.close()


class Network:
    """The namespaces and the links between them; `destroy` removes every trace."""

    def __init__(self, tag: str, logs: Path) -> None:
        self.tag = tag
        self.hosts: dict[str, Host] = {}
        self.logs = logs

    def build(self, names: Sequence[str]) -> dict[str, Host]:
        hub, *spokes = names
        for index, host in enumerate(names, start=1):
            ns = f"{self.tag}-{host}"
            sh("ip", "netns", "add", ns)
            self.hosts[host] = Host(ns, f"host-{host}", f"{SUBNET}.{index}", self.logs)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        a = self.hosts[hub]
        sh("ip", "-n", a.name, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", a.name, "addr", "add", f"{a.address}/{PREFIX}", "dev", "br0")
        sh("ip", "-n", a.name, "link", "set", "br0", "up")
        for host in spokes:
            spoke = self.hosts[host]
            port = f"to-{host}"
            # both ends are made inside their namespaces: no interface ever appears in the test machine's
            sh("ip", "link", "add", port, "netns", a.name, "type", "veth", "peer", "name", "eth0", "netns", spoke.name)
            sh("ip", "-n", a.name, "link", "set", port, "master", "br0")
            sh("ip", "-n", a.name, "link", "set", port, "up")
            sh("ip", "-n", spoke.name, "addr", "add", f"{spoke.address}/{PREFIX}", "dev", "eth0")
            sh("ip", "-n", spoke.name, "link", "set", "eth0", "up")
        return self.hosts

    def destroy(self) -> None:
        for host in self.hosts.values():
            host.stop()
        for host in self.hosts.values():
            subprocess.run(["ip", "netns", "del", host.name], capture_output=True, check=False)


def worker_host_argv(hostname: str, argv: Sequence[str]) -> list[str]:
    """A command run as its own machine: own hostname, own empty /tmp holding HOME and DATA_DIR,
    (a clock that is off comes with its environment: conftest.Cluster.host_env)."""
    # a checkout under /tmp (a CI clone) stays visible at its path: it is the host's "installed software"
    script = (
        'hostname "$0" && root="$1" && shift && case "$root" in /tmp/*) mkdir -p /run/sis-checkout && '
        'mount --bind "$root" /run/sis-checkout ;; esac && mount -t tmpfs -o mode=1777 tmpfs /tmp && '
        'mkdir -p /tmp/home /tmp/data && case "$root" in /tmp/*) mkdir -p "$root" && '
        'mount --bind /run/sis-checkout "$root" ;; esac && exec "$@"'
    )
    return [
        "unshare",
        "--uts",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        hostname,
        str(Path(__file__).resolve().parents[2]),
        *argv,
    ]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli", *args]
