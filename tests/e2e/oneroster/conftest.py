"""OneRoster syncs through the real pipeline: a real broker and `sis-sync worker` processes on
real Postgres, reading a simulator on a real socket of the test process.

The district is the S tier by default; `SIS_SYNC_E2E_TIER=M` runs the same tests on M.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from sqlalchemy import Engine

from devkit.generator import District, DistrictSpec
from devkit.simulators.oneroster.app import Simulator, SimulatorOptions
from devkit.simulators.oneroster.roster import PATH, Roster
from devkit.simulators.serving import ThreadedServer
from libs.enums import EntityType, ProviderType
from libs.settings import Settings
from tests.support.providers import create_provider

TABLES = {
    EntityType.SCHOOL: "schools",
    EntityType.TERM: "terms",
    EntityType.CLASS: "classes",
    EntityType.USER: "users",
    EntityType.ENROLLMENT: "enrollments",
}


TIER = os.environ.get("SIS_SYNC_E2E_TIER", "S")


@cache
def district(tier: str = TIER, seed: int = 1) -> District:
    return District(DistrictSpec.for_tier(tier, seed=seed))


@cache
def roster(tier: str = TIER, seed: int = 1) -> Roster:
    return Roster.from_district(district(tier, seed))


def expected_counts(source: District) -> dict[str, int]:
    return {TABLES[entity]: n for entity, n in source.counts().items()}


@dataclass
class Served:
    simulator: Simulator
    server: ThreadedServer

    @property
    def base_url(self) -> str:
        return self.server.url + PATH

    def provider(self, db: Engine, settings: Settings, provider_type: ProviderType, **config: Any) -> uuid.UUID:
        values: dict[str, Any] = {
            "clientId": self.simulator.options.client_id,
            "clientSecret": self.simulator.options.client_secret,
            "baseUrl": self.base_url,
            # the simulator publishes no limit; the default budget would measure itself
            "requestsPerMinute": 600_000,
        }
        if provider_type is ProviderType.CLASSLINK:
            values["tenantId"] = self.simulator.options.tenant
        values.update(config)
        return create_provider(db, settings, provider_type=provider_type, config=values)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[ThreadedServer] = []

    def start(source: Roster, **options: Any) -> Served:
        simulator = Simulator(source, SimulatorOptions(**options))
        server = ThreadedServer(simulator.app).start()
        started.append(server)
        return Served(simulator, server)

    yield start
    for server in started:
        server.stop()
