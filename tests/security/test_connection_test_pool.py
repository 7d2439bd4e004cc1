"""A district admin fires connection tests at a server that accepts and never answers.

The real API runs on uvicorn; its connection tests share one pool per process. A tenant runs
at most two tests at once (its third is a 429 with Retry-After, not a queued request), so the
pool stays free for the others, and every socket of a test ends at the test's deadline, so no
thread outlives it.
"""

from __future__ import annotations

import concurrent.futures
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import paramiko
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from devkit.simulators.serving import ThreadedServer, serving
from libs.auth import mint_token
from libs.connectors.sftp.keys import fingerprint
from libs.settings import Settings
from services.api.routes import connection
from tests.security.conftest import OTHER_TENANT, TENANT, Listener
from tests.support.api import ThreadedApi
from tests.support.workers import wait_until

DEADLINE = 3.0
FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"


def oneroster(url: str) -> dict[str, Any]:
    return {"baseUrl": f"{url}/ims/oneroster/v1p1", "clientId": "c", "clientSecret": "s"}


def sftp(port: int, host_key: str = FINGERPRINT) -> dict[str, Any]:
    server = {"host": "127.0.0.1", "port": port, "username": "u", "password": "p", "hostKeyFingerprint": host_key}
    return {"sftp": server, "remotePath": "/exports"}


def busy_test_threads() -> list[str]:
    """Pool threads inside a connector's test_connection (an idle pool thread waits for work)."""
    frames = sys._current_frames()
    return [
        thread.name
        for thread in threading.enumerate()
        if thread.name.startswith("connection-test")
        and thread.ident in frames
        and any(frame.name == "test_connection" for frame in traceback.extract_stack(frames[thread.ident]))
    ]


@pytest.fixture
def sis() -> Iterator[ThreadedServer]:
    """Another district's SIS, answering at once."""

    async def collection(request: Any) -> JSONResponse:
        # the test reads one page of every collection a sync reads, each under its own key
        key = request.url.path.rsplit("/", 1)[-1]
        return JSONResponse({key: []}, headers={"X-Total-Count": "0"})

    paths = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")
    routes = [Route(f"/ims/oneroster/v1p1/{path}", collection) for path in paths]
    with serving(Starlette(routes=routes)) as server:
        yield server


@pytest.fixture
def trickle() -> Iterator[int]:
    """A loopback HTTP server that starts an answer and then sends one byte of a header every 0.2 s."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.wait(0.2):
                try:
                    conn.sendall(b"a")
                except OSError:
                    return

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    stop.set()
    server.shutdown(socket.SHUT_RDWR)
    server.close()


class _LogsInThenSaysNothing(paramiko.ServerInterface):
    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        return True  # and no SFTP server behind it: the client's version packet is never answered


@pytest.fixture
def mute_sftp() -> Iterator[tuple[int, str]]:
    """An SSH server that accepts any password, opens the SFTP channel and never answers on it."""
    key = paramiko.ECDSAKey.generate()
    server = socket.create_server(("127.0.0.1", 0))
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(key)
            transport.start_server(server=_LogsInThenSaysNothing())
            transports.append(transport)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], fingerprint(key)
    server.shutdown(socket.SHUT_RDWR)  # wakes the accept
    server.close()
    thread.join(5)
    for transport in transports:
        transport.close()


@pytest.fixture
def api_url(db: Any, policy_on: Settings) -> Iterator[str]:
    # loopback stands for the districts' servers here, so the egress policy lets it through
    settings = policy_on.model_copy(
        update={"allow_private_provider_hosts": True, "connection_test_timeout_seconds": DEADLINE}
    )
    with ThreadedApi(settings) as api:
        yield api.url


def headers(settings: Settings, tenant: str) -> dict[str, str]:
    assert settings.auth_jwt_secret is not None
    token = mint_token(settings.auth_jwt_secret, subject=f"admin@{tenant}", roles=["DISTRICT_ADMIN"], tenant_id=tenant)
    return {"Authorization": f"Bearer {token}"}


def test_twenty_hanging_tests_of_one_tenant_leave_another_tenants_test_answering(
    api_url: str, policy_on: Settings, listener: Listener, sis: ThreadedServer
) -> None:
    hostile, other = headers(policy_on, TENANT), headers(policy_on, OTHER_TENANT)
    with httpx.Client(base_url=api_url, timeout=30) as http, concurrent.futures.ThreadPoolExecutor(20) as pool:

        def test(who: dict[str, str], tenant: str, provider_type: str, config: dict[str, Any]) -> httpx.Response:
            body = {"tenantId": tenant, "providerType": provider_type, "config": config}
            return http.post("/api/v1/providers/test", json=body, headers=who)

        started = time.monotonic()
        hanging = [
            pool.submit(test, hostile, TENANT, "ONEROSTER_API", oneroster(f"http://127.0.0.1:{listener.port}")),
            pool.submit(test, hostile, TENANT, "ONEROSTER_CSV", sftp(listener.port)),
        ]
        wait_until(lambda: len(busy_test_threads()) == 2, timeout=DEADLINE, what="both tests to wait on the listener")
        more = [
            pool.submit(test, hostile, TENANT, "ONEROSTER_API", oneroster(f"http://127.0.0.1:{listener.port}"))
            for _ in range(18)
        ]
        refused = [future.result() for future in more]

        asked = time.monotonic()
        answer = test(other, OTHER_TENANT, "ONEROSTER_API", oneroster(sis.url))
        answered_in = time.monotonic() - asked

        assert [r.status_code for r in refused] == [429] * 18
        assert {r.headers["Retry-After"] for r in refused} == {"3"}
        assert "already runs 2 connection tests" in refused[0].json()["detail"]
        assert answer.status_code == 200, answer.text
        assert answer.json()["success"] is True, answer.json()
        assert answered_in < 1.5, answered_in

        # the two hanging tests answer at their deadline, and their threads end with them
        for future in hanging:
            response = future.result()
            assert response.status_code == 200
            assert response.json()["success"] is False
        wait_until(lambda: not busy_test_threads(), timeout=1.0, what="the test threads to end")
        assert time.monotonic() - started < DEADLINE + 1.5
        # the tenant's slots are free again
        again = test(hostile, TENANT, "ONEROSTER_API", oneroster(sis.url))
        assert again.status_code == 200
        assert again.json()["success"] is True


def test_a_full_pool_refuses_a_test_instead_of_queueing_it(
    api_url: str, policy_on: Settings, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "POOL_THREADS", 1)
    config = oneroster(f"http://127.0.0.1:{listener.port}")
    with httpx.Client(base_url=api_url, timeout=30) as http, concurrent.futures.ThreadPoolExecutor(1) as pool:
        body = {"tenantId": TENANT, "providerType": "ONEROSTER_API", "config": config}
        first = pool.submit(http.post, "/api/v1/providers/test", json=body, headers=headers(policy_on, TENANT))
        wait_until(lambda: len(busy_test_threads()) == 1, timeout=DEADLINE, what="the first test to run")

        body = {"tenantId": OTHER_TENANT, "providerType": "ONEROSTER_API", "config": config}
        second = http.post("/api/v1/providers/test", json=body, headers=headers(policy_on, OTHER_TENANT))

        assert second.status_code == 429
        assert second.headers["Retry-After"] == "3"
        assert "as many connection tests as it can" in second.json()["detail"]
        assert first.result().status_code == 200


def test_an_sftp_server_that_logs_in_and_then_says_nothing_ends_at_the_deadline(
    api_url: str, policy_on: Settings, mute_sftp: tuple[int, str]
) -> None:
    port, host_key = mute_sftp
    body = {"tenantId": TENANT, "providerType": "ONEROSTER_CSV", "config": sftp(port, host_key)}
    started = time.monotonic()
    with httpx.Client(base_url=api_url, timeout=30) as http:
        answer = http.post("/api/v1/providers/test", json=body, headers=headers(policy_on, TENANT))

    assert answer.status_code == 200
    assert answer.json()["success"] is False
    # paramiko would wait for the SFTP version forever: the transport is closed at the deadline
    wait_until(lambda: not busy_test_threads(), timeout=1.0, what="the test thread to end")
    assert time.monotonic() - started < DEADLINE + 1.5


def test_a_server_trickling_its_answer_ends_at_the_deadline(api_url: str, policy_on: Settings, trickle: int) -> None:
    body = {"tenantId": TENANT, "providerType": "ONEROSTER_API", "config": oneroster(f"http://127.0.0.1:{trickle}")}
    started = time.monotonic()
    with httpx.Client(base_url=api_url, timeout=30) as http:
        answer = http.post("/api/v1/providers/test", json=body, headers=headers(policy_on, TENANT))

    assert answer.json()["success"] is False
    # each byte comes well within a read timeout: only the deadline ends the reads
    wait_until(lambda: not busy_test_threads(), timeout=1.0, what="the test thread to end")
    assert time.monotonic() - started < DEADLINE + 1.5
