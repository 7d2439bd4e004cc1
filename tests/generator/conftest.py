"""Small districts shared by the generator tests (S is generated once per session)."""

from __future__ import annotations

import pytest

from libs.generator import District, DistrictSpec


@pytest.fixture(scope="session")
def small() -> District:
    return District(DistrictSpec.for_tier("S", seed=1))


@pytest.fixture(scope="session")
def tiny() -> District:
    # every level (high, elementary, middle, elementary, high), a few hundred students
    return District(DistrictSpec(students=600, teachers=40, schools=5, seed=7))
