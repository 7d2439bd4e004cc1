from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from devkit.simulators.oneroster.app import Simulator, SimulatorOptions
from devkit.simulators.oneroster.roster import PATH, Roster
from devkit.simulators.serving import ThreadedServer
from libs.connectors.base import ConnectorContext, EntityOutcome
from libs.connectors.oneroster_api.connector import OneRosterApiConnector
from libs.connectors.records import Record, RecordError
from libs.connectors.registry import build_connector
from libs.enums import EntityType, ProviderType
from tests.simulators.oneroster.district import small_roster
from tests.support.egress import LOCAL


@dataclass
class Run:
    """What one connector run yielded, step by step, as the engine would collect it."""

    records: dict[EntityType, dict[str, Record]] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)
    outcomes: dict[str, dict[EntityType, EntityOutcome]] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0

    def counts(self) -> dict[str, int]:
        return {e.plural: len([r for r in recs.values() if not r.tombstone]) for e, recs in self.records.items()}

    def complete(self, entity: EntityType) -> bool:
        return all(o[entity].complete for o in self.outcomes.values() if entity in o)


def run_connector(connector: OneRosterApiConnector) -> Run:
    run = Run()
    for step in connector.plan():
        extraction = connector.extract(step)
        for item in extraction:
            if isinstance(item, RecordError):
                run.errors.append(item)
                continue
            bucket = run.records.setdefault(item.entity_type, {})
            if item.external_id in bucket:
                run.duplicates += 1
            bucket[item.external_id] = item
        run.outcomes[step.name] = extraction.outcomes
        run.sources.append(extraction.source)
    return run


@dataclass
class Served:
    simulator: Simulator
    server: ThreadedServer
    connectors: list[OneRosterApiConnector] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.url + PATH

    def connector(
        self, provider: ProviderType = ProviderType.ONEROSTER_API, context: dict[str, Any] | None = None, **config: Any
    ) -> OneRosterApiConnector:
        values: dict[str, Any] = {
            "clientId": "sis-sync",
            "clientSecret": "sis-sync-secret",
            "baseUrl": self.base_url,
            # the default budget (20 requests/s) would dominate these tests' time
            "requestsPerMinute": 60_000,
        }
        if provider is ProviderType.CLASSLINK:
            values["tenantId"] = "springfield-tx"
        values.update(config)
        connector = build_connector(
            provider, values, ConnectorContext(provider_id="p", egress=LOCAL, **(context or {}))
        )
        assert isinstance(connector, OneRosterApiConnector)
        self.connectors.append(connector)
        return connector


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(roster: Roster | None = None, **options: Any) -> Served:
        simulator = Simulator(roster or small_roster(), SimulatorOptions(**options))
        served = Served(simulator, ThreadedServer(simulator.app).start())
        started.append(served)
        return served

    yield start
    for served in started:
        for connector in served.connectors:
            connector.close()
        served.server.stop()
