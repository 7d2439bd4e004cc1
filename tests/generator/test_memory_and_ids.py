"""Streaming (memory does not grow with the district) and Clever-style ids."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from devkit.generator import District, DistrictSpec, IdError, clever_id, external_id_from_clever, write_oneroster_csv


def peak_bytes(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_when_the_district_grows_eightfold(tmp_path: Path) -> None:
    small = District(DistrictSpec(students=800, teachers=60, schools=15, seed=1))
    large = District(DistrictSpec(students=6_400, teachers=480, schools=15, seed=1))
    peaks = {}
    for name, district in (("small", small), ("large", large)):
        peaks[name, "bulk"] = peak_bytes(lambda d=district, n=name: write_oneroster_csv(d, tmp_path / n, zip=True))
        peaks[name, "delta"] = peak_bytes(
            lambda d=district, n=name: write_oneroster_csv(
                d.with_churn(2, seed=1), tmp_path / f"{n}-delta", delta_from=d
            )
        )
    assert (tmp_path / "large" / "oneroster.zip").stat().st_size > 8 * (
        tmp_path / "small" / "oneroster.zip"
    ).stat().st_size // 2
    for kind in ("bulk", "delta"):
        # buffers and per-school tables only: a list of records would grow eightfold
        assert peaks["large", kind] < 1.5 * peaks["small", kind] + 256 * 1024, peaks
        assert peaks["large", kind] < 2 * 1024 * 1024, peaks


def test_clever_ids_are_24_hex_and_ascend_in_generation_order() -> None:
    district = District(DistrictSpec(students=300, teachers=20, schools=3, seed=1))
    churned = district.with_churn(20, seed=1)
    users = [user.external_id for user in churned.users() if user.role == "student"]
    sections = [klass.external_id for klass in churned.classes()]
    for kind, keys in (("user", users), ("section", sections)):
        oids = [clever_id(kind, key) for key in keys]
        assert all(len(oid) == 24 and int(oid, 16) >= 0 for oid in oids)
        assert oids == sorted(oids)
        assert len(set(oids)) == len(oids)
        assert [external_id_from_clever(oid)[1] for oid in oids] == keys
    teachers = [clever_id("user", u.external_id) for u in churned.users() if u.role == "teacher"]
    assert teachers == sorted(teachers)
    # later school years sort after earlier ones
    assert clever_id("section", "cls-2026-0000001") > clever_id("section", "cls-2025-9999999")
    for kind, key in (("school", "sch-00003"), ("term", "trm-2025-q2"), ("course", "crs-00002-014")):
        assert external_id_from_clever(clever_id(kind, key)) == (kind, key)


@pytest.mark.parametrize(("kind", "key"), [("user", "usr-1"), ("enrollment", "enr-2025-0000001-stu-0000001")])
def test_clever_id_refuses_what_it_cannot_map(kind: str, key: str) -> None:
    with pytest.raises(IdError):
        clever_id(kind, key)
    with pytest.raises(IdError):
        external_id_from_clever("zz" * 12)
