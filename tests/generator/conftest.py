"""Small districts shared by the generator tests (S is generated once per session)."""

from __future__ import annotations

import pytest

from devkit.generator import District, DistrictSpec
from tests.generator.diffing import Snapshot, snapshot


@pytest.fixture(scope="session")
def small() -> District:
    return District(DistrictSpec.for_tier("S", seed=1))


@pytest.fixture(scope="session")
def tiny() -> District:
    # every level (high, elementary, middle, elementary, high), a few hundred students
    return District(DistrictSpec(students=600, teachers=40, schools=5, seed=7))


@pytest.fixture(scope="session")
def small_records(small: District) -> Snapshot:
    return snapshot(small)


@pytest.fixture(scope="session")
def churned(small: District) -> District:
    return small.with_churn(percent=1.0, seed=2)


@pytest.fixture(scope="session")
def churned_records(churned: District) -> Snapshot:
    return snapshot(churned)
