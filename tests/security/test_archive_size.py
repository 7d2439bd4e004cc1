"""A OneRoster CSV zip larger, unpacked, than CSV_MAX_UNCOMPRESSED_BYTES is refused before it is read.

(The zip bomb, 1 MB of blank lines expanding to 1 GiB, is refused by its ratio on a real worker:
test_sync_fair_share.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.settings import Settings
from services.api.app import create_app
from tests.security.conftest import connection_test


@pytest.fixture
def api(db: Engine, policy_on: Settings) -> Iterator[TestClient]:
    settings = policy_on.model_copy(update={"allow_local_csv_paths": True, "csv_max_uncompressed_bytes": 1 << 20})
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_zip_past_the_uncompressed_limit_is_refused_naming_the_setting(
    api: TestClient, admin: dict[str, str], tmp_path: Path
) -> None:
    # 2.2 MiB of ordinary CSV in a 230 KB zip: an honest ratio, past a limit of 1 MiB
    district = District(DistrictSpec(students=3000, teachers=200, schools=3, seed=3))
    package = write_oneroster_csv(district, tmp_path / "oneroster.zip", zip=True)

    answer = connection_test(api, admin, "ONEROSTER_CSV", {"localPath": str(package)})

    assert answer["success"] is False
    assert answer["message"] == (
        "oneroster.zip: oneroster.zip would expand to 2.2 MiB, more than CSV_MAX_UNCOMPRESSED_BYTES (1.0 MiB); "
        "the package was not read"
    )
