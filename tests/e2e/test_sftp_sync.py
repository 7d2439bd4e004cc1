"""An S-tier district fetched over SFTP (the simulator) by the real worker, and a broken drop after it."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from devkit.simulators.sftp import SftpSimulator
from libs.enums import LOAD_ORDER, EntityType, ProviderType, SyncStatus
from libs.settings import Settings
from tests.support.providers import create_provider, store_counts, store_versions
from tests.support.workers import Syncs

pytestmark = pytest.mark.e2e

TABLES = {
    EntityType.SCHOOL: "schools",
    EntityType.TERM: "terms",
    EntityType.CLASS: "classes",
    EntityType.USER: "users",
    EntityType.ENROLLMENT: "enrollments",
}


@pytest.fixture(scope="module")
def district() -> District:
    return District(DistrictSpec.for_tier("S", seed=11))


@pytest.fixture(scope="module")
def drop(district: District, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SftpSimulator, Path]]:
    root = tmp_path_factory.mktemp("sftp-root")
    (root / "exports").mkdir()
    write_oneroster_csv(district, root / "exports" / "roster-1.zip", zip=True)
    with SftpSimulator(root, password="e2e-password") as simulator:
        yield simulator, root / "exports"


def test_s_tier_over_sftp_then_a_broken_drop_changes_nothing(
    syncs: Syncs, db: Engine, e2e_settings: Settings, district: District, drop: tuple[SftpSimulator, Path]
) -> None:
    simulator, exports = drop
    config = simulator.provider_config("/exports") | {"stableSeconds": 0.5}
    provider_id = create_provider(db, e2e_settings, provider_type=ProviderType.ONEROSTER_CSV, config=config)

    # Given a zip on the SFTP drop, when the worker syncs, then the store holds exactly the district
    first = syncs.run(provider_id)
    assert first["status"] == SyncStatus.SUCCESS, first["error_message"]
    expected = district.counts()
    assert {t: a for t, (a, _) in store_counts(db, "district-1").items()} == {TABLES[e]: n for e, n in expected.items()}
    for entity in LOAD_ORDER:
        assert first["stats"][entity.plural]["created"] == expected[entity]
    package = first["source"]["steps"]["package"]["package"]
    assert package["name"] == "roster-1.zip"
    assert package["size"] == (exports / "roster-1.zip").stat().st_size

    # When the next export has a misspelled header, then the run fails naming it and nothing changes
    before = store_versions(db)
    broken = exports / "roster-2.zip"
    with zipfile.ZipFile(exports / "roster-1.zip") as good, zipfile.ZipFile(broken, "w") as bad:
        for info in good.infolist():
            data = good.read(info)
            if info.filename == "users.csv":
                data = data.replace(b"sourcedId", b"sourcedld", 1)
            bad.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
    second = syncs.run(provider_id)
    assert second["status"] == SyncStatus.FAILURE
    assert "users.csv: required column 'sourcedId' is missing (found 'sourcedld')" in second["error_message"]
    assert store_versions(db) == before
    broken.unlink()
