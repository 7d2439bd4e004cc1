"""OneRoster syncs through the real pipeline (every phase, real Postgres) from a simulator on
a real socket. The phases run in-process, message by message (tests/etl's Driver).

The district is a small generated one by default; `SIS_SYNC_E2E_TIER=M` (or S, L) runs the
same tests on a benchmark tier.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from libs.enums import EntityType, ProviderType
from libs.etl.context import EtlContext
from libs.generator import District, DistrictSpec
from libs.simulators.oneroster.app import Simulator, SimulatorOptions
from libs.simulators.oneroster.roster import PATH, Roster
from libs.simulators.serving import ServerThread
from tests.etl.conftest import ctx, driver  # noqa: F401 - the engine fixtures, shared
from tests.support.providers import create_provider

TABLES = {
    EntityType.SCHOOL: "schools",
    EntityType.TERM: "terms",
    EntityType.CLASS: "classes",
    EntityType.USER: "users",
    EntityType.ENROLLMENT: "enrollments",
}


TIER = os.environ.get("SIS_SYNC_E2E_TIER", "small")


@cache
def district(tier: str = TIER, seed: int = 1) -> District:
    if tier == "small":
        return District(DistrictSpec(students=900, teachers=60, schools=4, seed=seed))
    return District(DistrictSpec.for_tier(tier, seed=seed))


@cache
def roster(tier: str = TIER, seed: int = 1) -> Roster:
    return Roster.from_district(district(tier, seed))


def expected_counts(source: District) -> dict[str, int]:
    return {TABLES[entity]: n for entity, n in source.counts().items()}


@dataclass
class Served:
    simulator: Simulator
    server: ServerThread

    @property
    def base_url(self) -> str:
        return self.server.url + PATH

    def provider(self, etl: EtlContext, provider_type: ProviderType, **config: Any) -> uuid.UUID:
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
        return create_provider(etl.engine, etl.settings, provider_type=provider_type, config=values)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[ServerThread] = []

    def start(source: Roster, **options: Any) -> Served:
        simulator = Simulator(source, SimulatorOptions(**options))
        server = ServerThread(simulator.app).start()
        started.append(server)
        return Served(simulator, server)

    yield start
    for server in started:
        server.stop()
