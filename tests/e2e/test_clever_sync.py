"""Districts served by the Clever simulator, synced through the real broker, worker and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from devkit.generator import District, DistrictSpec
from devkit.simulators.clever.app import Simulator, create_app
from devkit.simulators.serving import ThreadedServer, serving
from libs.enums import LOAD_ORDER, EntityType, ProviderType, SyncMode, SyncStatus
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


def serve(district: District) -> Iterator[tuple[ThreadedServer, Simulator]]:
    # two-second rate-limit windows: a 429 makes the connector wait for the window's end
    sim = Simulator(district, window_seconds=2)
    with serving(create_app(sim)) as server:
        yield server, sim


def clever_provider(db: Engine, settings: Settings, server: ThreadedServer, sim: Simulator, **options: Any) -> Any:
    config = {
        "clientId": sim.client_id,
        "clientSecret": sim.client_secret,
        "districtId": sim.district_id,
        "apiUrl": server.url,
        "oauthUrl": server.url,
    }
    return create_provider(db, settings, provider_type=ProviderType.CLEVER, config=config, options=options)


def active_counts(db: Engine) -> dict[str, int]:
    return {table: active for table, (active, _) in store_counts(db, "district-1").items()}


@pytest.fixture(scope="module")
def m_tier() -> Iterator[tuple[ThreadedServer, Simulator]]:
    yield from serve(District(DistrictSpec.for_tier("M", seed=1)))


def test_m_tier_clever_district_syncs_resyncs_without_writes_and_survives_429s_and_5xx(
    syncs: Syncs, db: Engine, e2e_settings: Settings, m_tier: tuple[ThreadedServer, Simulator]
) -> None:
    server, sim = m_tier
    provider_id = clever_provider(db, e2e_settings, server, sim)
    expected = sim.store.generated.counts()

    # Given a new Clever provider, when the first sync runs, then the store holds the generated district
    first = syncs.run(provider_id, timeout=600)
    assert first["status"] == SyncStatus.SUCCESS, first["error_message"]
    assert active_counts(db) == {TABLES[e]: n for e, n in expected.items()}
    for entity in LOAD_ORDER:
        assert first["stats"][entity.plural]["created"] == expected[entity]
    assert first["stats"]["requests"]["retries"] == 0

    # When it syncs again, then nothing is written
    before = store_versions(db)
    second = syncs.run(provider_id, timeout=600)
    assert second["status"] == SyncStatus.SUCCESS, second["error_message"]
    assert second["stats"]["rowsWritten"] == 0
    assert store_versions(db) == before

    # When Clever throws 5xx bursts, 429s, slow pages and a lost next link, then the sync still
    # completes with identical results, and the run's stats count the retries. The simulator
    # counts requests across all clients, so its periods are primes: with a period equal to the
    # number of concurrent steps (4 here), one step's requests can fall on the faulty slot every
    # time and give up after its 10 attempts, which is no retry behaviour of the connector.
    sim.faults.faults.update(
        {
            "error_every": 7,
            "error_burst": 2,
            "throttle_every": 11,
            "throttle_burst": 1,
            "slow_every": 13,
            "slow_seconds": 0.5,
            "missing_next_every": 2,
        }
    )
    served_before = dict(sim.faults.served)
    third = syncs.run(provider_id, timeout=600)
    sim.faults.faults.update({"error_every": 0, "throttle_every": 0, "slow_every": 0, "missing_next_every": 0})
    assert third["status"] == SyncStatus.SUCCESS, third["error_message"]
    assert third["stats"]["rowsWritten"] == 0
    assert store_versions(db) == before
    errors = sim.faults.served["errors"] - served_before["errors"]
    throttled = sim.faults.served["throttled"] - served_before["throttled"]
    assert errors > 0
    assert throttled > 0
    assert sim.faults.served["missingNext"] > served_before["missingNext"]
    requests = third["stats"]["requests"]
    assert (requests["serverErrors"], requests["rateLimited"]) == (errors, throttled)
    assert requests["retries"] == errors + throttled


@pytest.fixture
def s_tier() -> Iterator[tuple[ThreadedServer, Simulator]]:
    yield from serve(District(DistrictSpec.for_tier("S", seed=5)))


def test_incremental_sync_from_clever_events_reaches_the_churned_district(
    syncs: Syncs, db: Engine, e2e_settings: Settings, s_tier: tuple[ThreadedServer, Simulator]
) -> None:
    server, sim = s_tier
    provider_id = clever_provider(db, e2e_settings, server, sim, incremental=True)
    full = syncs.run(provider_id)
    assert full["status"] == SyncStatus.SUCCESS, full["error_message"]

    # When 1% of the district churns, then an incremental run applies Clever's events only
    sim.churn(1.0, seed=6)
    expected = sim.store.generated.counts()
    delta = syncs.run(provider_id, mode=SyncMode.INCREMENTAL)

    assert delta["status"] == SyncStatus.SUCCESS, delta["error_message"]
    assert active_counts(db) == {TABLES[e]: n for e, n in expected.items()}
    assert delta["stats"]["users"]["created"] + delta["stats"]["users"]["updated"] < expected[EntityType.USER] / 10
    steps = delta["source"]["steps"]
    assert list(steps) == ["events"]
    assert steps["events"]["events"] > 0

    # When nothing changed since, then the next incremental run writes nothing
    before = store_versions(db)
    quiet = syncs.run(provider_id, mode=SyncMode.INCREMENTAL)
    assert quiet["status"] == SyncStatus.SUCCESS, quiet["error_message"]
    assert store_versions(db) == before
