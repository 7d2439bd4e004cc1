"""Fixtures for the Clever connector and simulator: recorded cassettes, spec, servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.simulators.clever.app import Simulator, create_app
from devkit.simulators.serving import ThreadedServer, serving
from tests.clever.replay import replay_app


@pytest.fixture(scope="session")
def clever_data(shared_data: Path) -> Path:
    return shared_data / "clever"


@pytest.fixture(scope="session")
def cassettes(clever_data: Path) -> Path:
    return clever_data / "clever_sdk" / "test" / "vcr" / "cassettes"


@pytest.fixture(scope="session")
def replay_server(cassettes: Path) -> Iterator[ThreadedServer]:
    with serving(replay_app(cassettes)) as server:
        yield server


# a small district with every Clever edge case the simulator seeds (co-taught sections with and
# without a primary teacher, teacher+staff users, contacts, students in two schools, no email)
SMALL = {"students": 1500, "teachers": 100, "schools": 5, "seed": 3, "co_taught_percent": 30.0}


@pytest.fixture
def small_district() -> Any:
    from devkit.generator.district import District
    from devkit.generator.spec import DistrictSpec

    return District(DistrictSpec(**SMALL))


@pytest.fixture
def simulator(small_district: Any) -> Simulator:
    return Simulator(small_district)


@pytest.fixture
def sim_server(simulator: Simulator) -> Iterator[ThreadedServer]:
    with serving(create_app(simulator)) as server:
        yield server


@pytest.fixture
def sim_http(sim_server: ThreadedServer, simulator: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim_server.url, headers={"Authorization": f"Bearer {simulator.token}"}) as client:
        yield client


@pytest.fixture
def spec_file(clever_data: Path) -> Path:
    return clever_data / "swagger-api" / "v3.0-client.yml"
