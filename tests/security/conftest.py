"""A hostile district admin's tools, and the fences that keep these tests on loopback.

Every test here runs with two autouse guards:
- `fake_dns`: socket.getaddrinfo answers names from a table (nothing reaches a real resolver);
  numeric hosts are parsed with AI_NUMERICHOST, which never asks DNS;
- `loopback_only`: a socket connect to anything but loopback (or the unspecified address, which
  Linux routes to this machine) fails the test instead of leaving the machine.
Tests that must see whether a connection was even attempted use `connects`, which records
every connect and refuses it.
"""

from __future__ import annotations

import ipaddress
import os
import resource
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from libs.auth import mint_token
from libs.settings import Settings
from services.api.app import create_app

TENANT = "district-a"
OTHER_TENANT = "district-b"

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class FakeDns:
    """socket.getaddrinfo from a table: name -> addresses, or a callable giving the next answer."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str] | Callable[[], list[str]]] = {"localhost": ["127.0.0.1", "::1"]}
        self.asked: list[str] = []

    def __call__(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if host is None:
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        try:
            return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        self.asked.append(host)
        answer = self.answers.get(host.lower().rstrip("."))
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = answer() if callable(answer) else answer
        number = int(port or 0)
        out = []
        for address in addresses:
            if ":" in address:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number)))
        return out


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    dns = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    return dns


def _stays_here(sock: socket.socket, address: Any) -> bool:
    if sock.family == socket.AF_UNIX:
        return True
    host = str(address[0]).split("%", 1)[0]
    if host == "localhost":
        return True
    ip = ipaddress.ip_address(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def connect(self: socket.socket, address: Any) -> None:
        if not _stays_here(self, address):
            raise AssertionError(f"a test tried to connect to {address!r}, which is not loopback")
        _real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _stays_here(self, address):
            raise AssertionError(f"a test tried to connect to {address!r}, which is not loopback")
        return int(_real_connect_ex(self, address))

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@dataclass
class Connects:
    """Every socket connect attempted while installed; each is refused, none leaves the process."""

    targets: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Connects:
    seen = Connects()

    def connect(self: socket.socket, address: Any) -> None:
        seen.targets.append((str(address[0]), int(address[1])))
        raise ConnectionRefusedError(111, "Connection refused (recorded by the test)")

    def connect_ex(self: socket.socket, address: Any) -> int:
        seen.targets.append((str(address[0]), int(address[1])))
        return 111

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return seen


class Listener:
    """A TCP port on 127.0.0.1 (and ::1 when the machine has IPv6) that never accepts by itself.

    `connections()` takes whatever reached the accept queue: a connection that was refused by the
    egress policy never gets there, one that was let through does even though nobody answers it.
    """

    def __init__(self) -> None:
        self.v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.v4.bind(("127.0.0.1", 0))
        self.v4.listen(64)
        self.v4.setblocking(False)
        self.port: int = self.v4.getsockname()[1]
        self.v6: socket.socket | None = None
        try:
            v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            v6.bind(("::1", self.port))
            v6.listen(64)
            v6.setblocking(False)
            self.v6 = v6
        except OSError:
            self.v6 = None

    def connections(self) -> int:
        count = 0
        for sock in (self.v4, self.v6):
            while sock is not None:
                try:
                    accepted, _ = sock.accept()
                except BlockingIOError:
                    break
                accepted.close()
                count += 1
        return count

    def close(self) -> None:
        self.v4.close()
        if self.v6 is not None:
            self.v6.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    port = Listener()
    yield port
    port.close()


def url_host(host: str) -> str:
    """`host` as it is written in a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


# --- the real API -----------------------------------------------------------------------------


@pytest.fixture
def policy_on(settings: Settings, tmp_path: Path) -> Settings:
    """The test settings with the egress policy of a production deployment and a key folder."""
    keys = tmp_path / "sftp-keys"
    (keys / TENANT).mkdir(parents=True)
    (keys / OTHER_TENANT).mkdir(parents=True)
    return settings.model_copy(
        update={
            "allow_private_provider_hosts": False,
            "sftp_key_dir": keys,
            "api_requests_per_minute": 1_000_000,
            "api_sync_triggers_per_minute": 1_000_000,
            # a guard that failed would show as a connection test waiting on the silent listener
            "connection_test_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
def api(db: Engine, policy_on: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(policy_on)) as client:
        yield client


@pytest.fixture
def admin(policy_on: Settings) -> dict[str, str]:
    assert policy_on.auth_jwt_secret is not None
    token = mint_token(policy_on.auth_jwt_secret, subject="admin@a", roles=["DISTRICT_ADMIN"], tenant_id=TENANT)
    return {"Authorization": f"Bearer {token}"}


def connection_test(client: TestClient, headers: dict[str, str], provider_type: str, config: dict[str, Any]) -> Any:
    """POST /api/v1/providers/test for an unsaved config of this tenant; the JSON answer."""
    body = {"tenantId": TENANT, "providerType": provider_type, "config": config}
    response = client.post("/api/v1/providers/test", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- memory -----------------------------------------------------------------------------------


@contextmanager
def address_space_ceiling(extra: int = 2 << 30) -> Iterator[None]:
    """Caps this process's address space at its current size plus `extra` while inside.

    A guard that failed (a key path read to the end of /dev/zero) then ends in MemoryError
    within seconds instead of taking the machine's memory.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open(f"/proc/{os.getpid()}/statm") as statm:
        current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    ceiling = current + extra
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


from tests.support.sshd import sshd  # noqa: E402 - the real sshd fixture, for a key that must work

__all__ = ["sshd"]
