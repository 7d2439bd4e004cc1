"""Syncs on a real worker against sources a hostile district admin controls.

A source that hangs holds only its own tenant's sync slot (MAX_CONCURRENT_SYNCS_PER_TENANT); a
source that keeps answering 503/429 stops being retried once SOURCE_RETRY_BUDGET_SECONDS is
spent; a zip bomb is refused from its directory before a row of it is parsed.
"""

from __future__ import annotations

import contextlib
import shutil
import struct
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from devkit.simulators.serving import serving
from libs.enums import ProviderType, SyncStatus
from libs.settings import Settings
from tests.security.conftest import Listener
from tests.support.providers import create_provider, run_row
from tests.support.workers import ServiceProcess, Syncs, start_worker, wait_until

pytestmark = pytest.mark.e2e

RETRY_BUDGET = 3.0
BLANK_LINES = 1 << 30


@pytest.fixture(scope="module")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = start_worker(
        settings, tmp_path_factory.mktemp("logs"), threads=4, source_retry_budget_seconds=RETRY_BUDGET
    )
    yield process
    process.stop()


@pytest.fixture
def syncs(settings: Settings, db: Engine, worker: ServiceProcess) -> Iterator[Syncs]:
    helper = Syncs(settings, db)
    yield helper
    helper.close()
    assert worker.alive(), worker.output()[-3000:]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    district = District(DistrictSpec(students=60, teachers=6, schools=2, seed=14))
    return write_oneroster_csv(district, tmp_path_factory.mktemp("package") / "pkg")


@pytest.fixture(scope="module")
def bomb(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package zipped (1 MB) with 1 GiB of blank lines after users.csv's rows, written a MiB at a time."""
    path = tmp_path_factory.mktemp("bomb") / "oneroster.zip"
    blank = b"\n" * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for file in sorted(package.iterdir()):
            with archive.open(file.name, "w") as member:
                member.write(file.read_bytes())
                if file.name == "users.csv":
                    for _ in range(BLANK_LINES // len(blank)):
                        member.write(blank)
    assert path.stat().st_size < 2 << 20
    return path


def understate(source: Path, target: Path, name: str, size: int) -> None:
    """Copy a zip with `name`'s uncompressed size written as `size` in both of its headers."""
    shutil.copyfile(source, target)
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo(name)
    data = bytearray(target.read_bytes())
    struct.pack_into("<I", data, info.header_offset + 22, size)  # the local file header
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        (length,) = struct.unpack_from("<H", data, central + 28)
        if data[central + 46 : central + 46 + length] == name.encode():
            struct.pack_into("<I", data, central + 24, size)  # its central directory entry
        central = data.find(b"PK\x01\x02", central + 46)
    target.write_bytes(bytes(data))


def _provider(db: Engine, settings: Settings, provider_type: ProviderType, config: dict[str, Any], tenant: str) -> Any:
    return create_provider(db, settings, provider_type=provider_type, config=config, tenant_id=tenant)


def test_a_tenant_whose_sources_hang_does_not_delay_another_tenants_sync(
    syncs: Syncs, db: Engine, settings: Settings, listener: Listener, package: Path
) -> None:
    assert (settings.max_concurrent_syncs, settings.max_concurrent_syncs_per_tenant) == (2, 1)
    # the listener accepts (the kernel does) and never answers
    config = {"baseUrl": f"http://127.0.0.1:{listener.port}/ims/oneroster/v1p1", "clientId": "c", "clientSecret": "s"}
    hanging = [_provider(db, settings, ProviderType.ONEROSTER_API, config, "district-hanging") for _ in range(2)]
    quiet = _provider(db, settings, ProviderType.ONEROSTER_CSV, {"localPath": str(package)}, "district-quiet")
    stuck = [syncs.start(p) for p in hanging]
    wait_until(lambda: run_row(db, stuck[0])["status"] == SyncStatus.IN_PROGRESS, timeout=30, what="the first run")

    done = syncs.run(quiet, timeout=60)

    assert done["status"] == SyncStatus.SUCCESS, done["error_message"]
    assert (done["started_at"] - done["requested_at"]).total_seconds() <= settings.scheduler_tick_seconds
    # the hanging tenant's first run still waits on its source, its second on its own slot
    assert [run_row(db, r)["status"] for r in stuck] == [SyncStatus.IN_PROGRESS, SyncStatus.PENDING]
    # from now on the port hangs up on every connection (it stays ours, so no other test's server
    # can take it): both runs end within the retry budget
    hanging_up = threading.Event()

    def hang_up() -> None:
        while not hanging_up.wait(0.05):
            with contextlib.suppress(OSError):  # a client that gave up before the accept
                listener.connections()

    closer = threading.Thread(target=hang_up, daemon=True)
    closer.start()
    try:
        # a connection made before the hang-up began may wait out the HTTP read timeout (60 s)
        assert {syncs.wait(r, timeout=150)["status"] for r in stuck} == {SyncStatus.FAILURE}
    finally:
        hanging_up.set()
        closer.join()


def test_a_source_that_keeps_asking_to_wait_stops_within_the_retry_budget(
    syncs: Syncs, db: Engine, settings: Settings
) -> None:
    answered: list[int] = []

    async def busy(request: Any) -> Response:
        # rate-limited on every other request, unavailable on the rest; always "come back in 2 s"
        answered.append(status := 429 if len(answered) % 2 else 503)
        return Response(status_code=status, headers={"Retry-After": "2"})

    with serving(Starlette(routes=[Route("/{path:path}", busy)])) as server:
        config = {
            "baseUrl": f"{server.url}/ims/oneroster/v1p1",
            "clientId": "c",
            "clientSecret": "s",
            "enrollmentPartitions": "none",
        }
        provider = _provider(db, settings, ProviderType.ONEROSTER_API, config, "district-busy")
        started = time.monotonic()
        done = syncs.run(provider, timeout=120)
        elapsed = time.monotonic() - started

    assert done["status"] != SyncStatus.SUCCESS
    assert "retry budget of 3 s per request and extract step, SOURCE_RETRY_BUDGET_SECONDS" in str(done), done
    # five steps, each given up within the budget (without it: ten attempts each, 18 s of waiting)
    assert elapsed < 4 * RETRY_BUDGET, elapsed
    assert {429, 503} <= set(answered)


def test_a_zip_bomb_fails_the_run_within_seconds(syncs: Syncs, db: Engine, settings: Settings, bomb: Path) -> None:
    provider = _provider(db, settings, ProviderType.ONEROSTER_CSV, {"localPath": str(bomb)}, "district-bomb")
    started = time.monotonic()

    done = syncs.run(provider, timeout=60)

    assert time.monotonic() - started < 10
    assert done["status"] == SyncStatus.FAILURE
    assert done["error_message"].startswith("oneroster.zip would expand to 1.0 GiB, ")
    assert "a zip expanding more than 100 times is refused as a likely zip bomb" in done["error_message"]


def test_a_zip_understating_a_members_size_is_read_only_to_that_size(
    syncs: Syncs, db: Engine, settings: Settings, package: Path, bomb: Path, tmp_path: Path
) -> None:
    # the directory says users.csv holds only its rows: the ratio check passes, the 1 GiB behind them is never read
    lying = tmp_path / f"oneroster-{uuid.uuid4().hex[:6]}.zip"
    understate(bomb, lying, "users.csv", (package / "users.csv").stat().st_size)
    provider = _provider(db, settings, ProviderType.ONEROSTER_CSV, {"localPath": str(lying)}, "district-lying")
    started = time.monotonic()

    done = syncs.run(provider, timeout=60)

    assert time.monotonic() - started < 10
    assert done["status"] == SyncStatus.PARTIAL
    assert "users.csv: reading stopped after line" in done["error_message"]
    assert "(the zip member fails its CRC check: the package is corrupt)" in done["error_message"]
