"""Broken OneRoster packages never wipe a district: with `requireApproval: never` each ends
PARTIAL, every enrollment stays; by default (onGuard) the run holds with nothing written."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.enums import EntityType, ProviderType, SyncStatus
from libs.settings import Settings
from tests.support.providers import create_provider, store_counts, store_versions, update_config
from tests.support.workers import Syncs

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def district() -> District:
    return District(DistrictSpec(students=800, teachers=50, schools=3, seed=11))


@pytest.fixture(scope="module")
def base_package(district: District, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_oneroster_csv(district, tmp_path_factory.mktemp("guards") / "base")


def _broken_copy(base: Path, tmp_path: Path, damage: Callable[[Path], None]) -> Path:
    target = tmp_path / "broken"
    shutil.copytree(base, target)
    damage(target / "enrollments.csv")
    return target


def _truncate_mid_row(path: Path) -> None:
    data = path.read_bytes()
    cut = int(len(data) * 0.6)
    while data[cut : cut + 1] in (b"\n", b"\r"):
        cut += 1
    path.write_bytes(data[: cut + 5])  # a few bytes into a row: the file ends mid-record


def _keep_half(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    path.write_text(header + "".join(rows[: len(rows) // 2]), encoding="utf-8")


def _header_only(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8").splitlines(keepends=True)[0], encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_header_only, "enrollments: the feed has no rows while"),
        (_truncate_mid_row, "enrollments: extract incomplete"),
        (_keep_half, "(50%) would be deactivated, above the 20% threshold"),
    ],
    ids=["empty-enrollments", "truncated-file", "half-dropped"],
)
def test_a_broken_enrollments_file_deactivates_nothing(
    syncs: Syncs,
    db: Engine,
    e2e_settings: Settings,
    district: District,
    base_package: Path,
    tmp_path: Path,
    damage: Callable[[Path], None],
    message: str,
) -> None:
    provider_id = create_provider(
        db,
        e2e_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(base_package)},
        options={"requireApproval": "never"},
    )
    assert syncs.run(provider_id)["status"] == SyncStatus.SUCCESS
    enrollments = district.counts()[EntityType.ENROLLMENT]

    broken = _broken_copy(base_package, tmp_path, damage)
    update_config(db, e2e_settings, provider_id, {"localPath": str(broken)})
    run = syncs.run(provider_id)

    assert run["status"] == SyncStatus.PARTIAL
    assert message in run["error_message"]
    assert run["stats"]["enrollments"]["deactivated"] == 0
    assert store_counts(db, "district-1")["enrollments"] == (enrollments, 0)
    # everything else in the package still applied: the other entity types are unchanged and current
    assert run["stats"]["users"]["unchanged"] == district.counts()[EntityType.USER]


def test_the_generators_empty_enrollments_package_holds_the_run_with_nothing_written(
    syncs: Syncs, db: Engine, e2e_settings: Settings, district: District, base_package: Path, tmp_path: Path
) -> None:
    tenant = f"district-{uuid.uuid4().hex[:6]}"
    provider_id = create_provider(
        db,
        e2e_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(base_package)},
        tenant_id=tenant,
    )
    assert syncs.run(provider_id)["status"] == SyncStatus.SUCCESS
    empty = write_oneroster_csv(district.with_empty("enrollments"), tmp_path / "empty")
    update_config(db, e2e_settings, provider_id, {"localPath": str(empty)})

    before = store_versions(db)
    run = syncs.run(provider_id)

    assert run["status"] == SyncStatus.HELD
    assert "enrollments: the feed has no rows while" in run["error_message"]
    enrollments = district.counts()[EntityType.ENROLLMENT]
    assert run["stats"]["plan"]["enrollments"]["deactivate"] == enrollments
    assert store_counts(db, tenant)["enrollments"] == (enrollments, 0)
    assert store_versions(db) == before
