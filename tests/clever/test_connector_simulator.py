"""The connector against the simulator over real sockets: counts, faults, token rotation, events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from devkit.generator import ids as gen_ids
from devkit.simulators.clever.app import Simulator, create_app
from devkit.simulators.serving import ThreadedServer, serving
from libs.connectors.base import ConnectionResult, ConnectorContext, EntityOutcome, FeedMode
from libs.connectors.clever.config import CleverConfig
from libs.connectors.clever.connector import CleverConnector
from libs.connectors.errors import AuthError
from libs.connectors.records import Enrollment, Record, RecordError
from libs.enums import EntityType, SyncMode
from tests.support.egress import LOCAL


@dataclass
class Run:
    records: dict[tuple[EntityType, str], Record] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)
    outcomes: dict[EntityType, list[EntityOutcome]] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)

    def count(self, entity_type: EntityType) -> int:
        return sum(1 for (kind, _), record in self.records.items() if kind == entity_type and not record.tombstone)

    def hashes(self) -> dict[tuple[EntityType, str], bytes]:
        return {key: record.row_hash() for key, record in self.records.items()}

    def total(self, name: str) -> int:
        return sum(int(source["requests"][name]) for source in self.sources)


def run(conn: CleverConnector, during: Callable[[int], None] | None = None) -> Run:
    try:
        return _run(conn, during)
    finally:
        conn.close()


def _run(conn: CleverConnector, during: Callable[[int], None] | None) -> Run:
    result = Run()
    n = 0
    for step in conn.plan():
        extraction = conn.extract(step)
        for item in extraction:
            n += 1
            if during is not None:
                during(n)
            if isinstance(item, RecordError):
                result.errors.append(item)
                continue
            key = (item.entity_type, item.external_id)
            assert key not in result.records, f"{key} yielded twice in one run"
            result.records[key] = item
        for entity_type, outcome in extraction.outcomes.items():
            result.outcomes.setdefault(entity_type, []).append(outcome)
        result.sources.append(extraction.source)
    result.cursor = conn.next_cursor(result.sources)
    return result


@pytest.fixture
def connect(sim_server: ThreadedServer) -> Callable[..., CleverConnector]:
    def make(cursor: dict[str, Any] | None = None, **config: Any) -> CleverConnector:
        settings = {
            "clientId": "sim-client-id",
            "clientSecret": "sim-client-secret",
            "districtId": gen_ids.clever_id("district", gen_ids.DISTRICT_ID),
            "apiUrl": sim_server.url,
            "oauthUrl": sim_server.url,
            **config,
        }
        mode = SyncMode.INCREMENTAL if cursor else SyncMode.FULL
        context = ConnectorContext(provider_id="sim", mode=mode, cursor=cursor or {}, egress=LOCAL)
        return CleverConnector(CleverConfig.model_validate(settings), context)

    return make


def test_a_generated_district_extracts_with_the_generators_counts(
    connect: Callable[..., CleverConnector], small_district: Any
) -> None:
    result = run(connect())

    assert result.errors == []
    assert {e: result.count(e) for e in EntityType} == small_district.counts()
    expected_users = {gen_ids.clever_id("user", u.external_id) for u in small_district.users()}
    assert {external_id for (kind, external_id) in result.records if kind == EntityType.USER} == expected_users
    assert all(o.mode == FeedMode.FULL and o.complete for outcomes in result.outcomes.values() for o in outcomes)


def test_teachers_holding_a_staff_role_and_sections_without_a_primary_teacher_come_through(
    connect: Callable[..., CleverConnector], simulator: Simulator
) -> None:
    result = run(connect())
    users = simulator.store.collections["users"].objects
    both = [uid for uid in simulator.store.by_role["staff"] if "teacher" in users[uid]["roles"]]
    no_primary = [s["id"] for s in simulator.store.collections["sections"].objects.values() if s["teacher"] is None]

    assert both
    assert all(result.records[(EntityType.USER, uid)].role == "teacher" for uid in both)  # type: ignore[attr-defined]
    assert no_primary
    for section_id in no_primary:
        teachers = [
            r
            for (kind, _), r in result.records.items()
            if isinstance(r, Enrollment) and r.class_external_id == section_id and r.role == "teacher"
        ]
        assert teachers
        assert not any(e.primary for e in teachers)


@pytest.fixture
def flaky_server(small_district: Any) -> Iterator[tuple[ThreadedServer, Simulator]]:
    # one-second rate-limit windows so that each 429 costs at most a second
    sim = Simulator(small_district, window_seconds=1)
    with serving(create_app(sim)) as server:
        yield server, sim


def test_with_5xx_bursts_429s_and_lost_next_links_the_extract_is_identical_and_the_retries_are_counted(
    connect: Callable[..., CleverConnector], flaky_server: tuple[ThreadedServer, Simulator]
) -> None:
    server, sim = flaky_server
    clean = run(connect(apiUrl=server.url, oauthUrl=server.url, pageSize=400))
    sim.faults.faults.update(
        {"error_every": 6, "error_burst": 2, "throttle_every": 11, "throttle_burst": 1, "missing_next_every": 2}
    )

    flaky = run(connect(apiUrl=server.url, oauthUrl=server.url, pageSize=400))

    assert flaky.hashes() == clean.hashes()
    served = sim.faults.served
    assert served["errors"] > 0
    assert served["throttled"] > 0
    assert served["missingNext"] > 0
    assert flaky.total("serverErrors") == served["errors"]
    assert flaky.total("rateLimited") == served["throttled"]
    assert flaky.total("retries") == served["errors"] + served["throttled"]
    assert clean.total("retries") == 0
    recovered = sum(entry["missingNext"] for source in flaky.sources for entry in source["lists"].values())
    assert recovered == served["missingNext"]


def test_a_token_revoked_mid_run_is_replaced_from_the_client_credentials(
    connect: Callable[..., CleverConnector], simulator: Simulator, small_district: Any
) -> None:
    def revoke_once(n: int) -> None:
        if n == 3000:
            simulator.revoke_token()

    result = run(connect(pageSize=500), during=revoke_once)

    assert simulator.revocations == 1
    assert {e: result.count(e) for e in EntityType} == small_district.counts()


def test_a_revoked_stored_token_fails_with_a_clear_message(
    connect: Callable[..., CleverConnector], simulator: Simulator
) -> None:
    conn = connect(clientId=None, clientSecret=None, accessToken=simulator.token)
    simulator.revoke_token()

    with pytest.raises(AuthError, match="refused the access token"):
        run(conn)


def test_events_after_churn_turn_the_last_snapshot_into_the_new_one(
    connect: Callable[..., CleverConnector], simulator: Simulator
) -> None:
    before = run(connect())
    simulator.churn(5, seed=2)
    after = run(connect())

    delta = run(connect(cursor=before.cursor))

    assert all(o.mode == FeedMode.DELTA for outcomes in delta.outcomes.values() for o in outcomes)
    complete = delta.outcomes[EntityType.ENROLLMENT][0].complete_classes or frozenset()
    applied = dict(before.records)
    for key, record in delta.records.items():
        if record.tombstone:
            applied.pop(key, None)
        else:
            applied[key] = record
    for key, record in list(applied.items()):
        # a section event lists the section's whole roster: members it does not list have left
        if isinstance(record, Enrollment) and record.class_external_id in complete and key not in delta.records:
            del applied[key]
        # a deleted section takes its enrollments with it
        if isinstance(record, Enrollment) and (EntityType.CLASS, record.class_external_id or "") not in applied:
            applied.pop(key, None)
    assert {k: r.row_hash() for k, r in applied.items()} == after.hashes()
    # a section event carries its whole roster, so enrollments dominate a delta; users do not
    assert delta.count(EntityType.USER) < after.count(EntityType.USER) / 5
    assert delta.cursor["lastEventId"] == simulator.events.ids[-1]


def test_the_connection_test_reads_every_list_a_sync_reads_and_names_the_one_refused(
    connect: Callable[..., CleverConnector], simulator: Simulator
) -> None:
    def test() -> ConnectionResult:
        conn = connect()
        try:
            return conn.test_connection()
        finally:
            conn.close()

    assert test().success
    simulator.denied.add("/sections")
    try:
        result = test()
    finally:
        simulator.denied.clear()
    assert not result.success
    assert result.message.startswith("The token cannot read /sections: ")
    assert "403" in result.message
    assert result.details["collection"] == "/sections"
