"""OneRoster REST and ClassLink districts synced end to end, quirks and faults included."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from devkit.simulators.oneroster.roster import Roster
from libs.connectors import registry
from libs.connectors.base import ConnectorContext
from libs.connectors.egress import EgressPolicy
from libs.enums import EntityType, ProviderType, SyncMode, SyncStatus
from libs.etl import runs
from libs.etl.phase import cancel_sync
from libs.settings import Settings
from tests.e2e.oneroster.conftest import Served, district, expected_counts, roster
from tests.support.providers import store_counts, store_versions
from tests.support.workers import Syncs, start_worker, wait_until

pytestmark = pytest.mark.e2e

Serve = Callable[..., Served]


def active(db: Engine) -> dict[str, int]:
    return {table: n for table, (n, _) in store_counts(db, "district-1").items()}


@pytest.mark.parametrize(
    ("provider_type", "flavour", "config"),
    [
        (ProviderType.ONEROSTER_API, "generic", {"auth": "oauth1"}),
        (ProviderType.ONEROSTER_API, "generic", {"auth": "oauth2"}),
        (ProviderType.CLASSLINK, "classlink", {}),
    ],
    ids=["generic-oauth1", "generic-oauth2", "classlink"],
)
def test_each_flavour_syncs_the_district_with_the_generators_counts(
    serve: Serve,
    e2e_settings: Settings,
    syncs: Syncs,
    db: Engine,
    provider_type: ProviderType,
    flavour: str,
    config: dict[str, str],
) -> None:
    # the M tier (100k students, ~520k enrollments): paging, partitions and signing at a real
    # district's size, not only the S tier the fault tests use
    source = district("M")
    served = serve(roster("M"), flavour=flavour, auth="oauth2" if config.get("auth") == "oauth2" else "oauth1")
    provider = served.provider(db, e2e_settings, provider_type, **config)

    run = syncs.run(provider, timeout=600)

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert active(db) == expected_counts(source)
    for table, n in expected_counts(source).items():
        assert run["stats"][table]["created"] == n
        assert run["stats"][table]["errors"] == 0
    assert served.simulator.stats.rejected == 0


def test_a_clamped_limit_without_link_header_syncs_every_record(
    serve: Serve, e2e_settings: Settings, syncs: Syncs, db: Engine
) -> None:
    served = serve(roster(), max_limit=97, link_header=False)
    provider = served.provider(db, e2e_settings, ProviderType.ONEROSTER_API, pageSize=1000)

    run = syncs.run(provider)
    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert active(db) == expected_counts(district())
    users = district().counts()[EntityType.USER]
    assert served.simulator.stats.pages["users"] == -(-users // 97)


def test_a_total_that_changes_mid_extract_holds_and_deactivates_nothing(
    serve: Serve, e2e_settings: Settings, syncs: Syncs, db: Engine
) -> None:
    served = serve(roster(), max_limit=100)
    provider = served.provider(db, e2e_settings, ProviderType.ONEROSTER_API, auth="oauth2")
    assert syncs.run(provider)["status"] == SyncStatus.SUCCESS
    changed = district().with_churn(percent=5, seed=3)
    served.simulator.replace(Roster.from_district(changed))
    # a user appears while the users are being paged
    served.simulator.faults.update({"grow_after": {"users": 3}})

    run = syncs.run(provider)

    # the incomplete read holds the run for review (requireApproval onGuard), planning no user's end
    assert run["status"] == SyncStatus.HELD
    assert "total changed" in (run["error_message"] or "")
    assert changed.churn[EntityType.USER].dropped > 0
    assert run["stats"]["plan"]["users"]["deactivate"] == 0
    assert store_counts(db, "district-1")["users"][1] == 0


def test_rate_limits_and_server_errors_leave_the_same_store_as_a_calm_sync(
    serve: Serve, e2e_settings: Settings, syncs: Syncs, db: Engine
) -> None:
    stormy = serve(roster(), flavour="classlink", max_limit=500)
    faults = {"rate_limit_every": 25, "rate_limit_burst": 2, "server_error_every": 31, "server_error_burst": 2}
    stormy.simulator.faults.update({**faults, "retry_after": 1})
    provider = stormy.provider(db, e2e_settings, ProviderType.CLASSLINK)

    run = syncs.run(provider)

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert stormy.simulator.stats.by_status[429] > 0
    assert stormy.simulator.stats.by_status[503] > 0
    assert active(db) == expected_counts(district())
    before = store_versions(db)
    stormy.simulator.faults.update({"rate_limit_every": 0, "server_error_every": 0})
    calm = syncs.run(provider)
    assert calm["status"] == SyncStatus.SUCCESS
    assert calm["stats"]["rowsWritten"] == 0
    assert store_versions(db) == before


def test_an_incremental_run_fetches_only_the_churn_and_ends_where_a_full_run_would(
    serve: Serve, e2e_settings: Settings, syncs: Syncs, db: Engine
) -> None:
    served = serve(roster())
    provider = served.provider(db, e2e_settings, ProviderType.ONEROSTER_API)
    assert syncs.run(provider)["status"] == SyncStatus.SUCCESS
    changed = district().with_churn(percent=1, seed=2)
    report = served.simulator.replace(Roster.from_district(changed))
    served.simulator.reset_stats()

    delta = syncs.run(provider, mode=SyncMode.INCREMENTAL)

    assert delta["status"] == SyncStatus.SUCCESS, delta["error_message"]
    changes = {name: r["added"] + r["changed"] + r["deleted"] for name, r in report.items()}
    served_under_filter = served.simulator.stats.filtered_records
    for name in ("academicSessions", "classes", "users", "enrollments"):
        assert served_under_filter[name] == changes[name], name
        # and nothing of these collections was read whole beside the filtered pages
        assert served.simulator.stats.records[name] == changes[name], name
    assert sum(changes.values()) < sum(len(c.ids) for c in served.simulator.store.collections.values()) / 20
    assert report["users"]["deleted"] == changed.churn[EntityType.USER].dropped
    assert report["users"]["added"] == changed.churn[EntityType.USER].added
    assert active(db) == expected_counts(changed)
    after_delta = store_versions(db)

    full = syncs.run(provider)

    assert full["status"] == SyncStatus.SUCCESS
    assert full["stats"]["rowsWritten"] == 0
    assert store_versions(db) == after_delta


@dataclass
class Storm:
    """A source refusing every data request with a long Retry-After, and a run waiting it out."""

    served: Served
    settings: Settings
    provider: uuid.UUID

    def start(self, syncs: Syncs) -> uuid.UUID:
        run_id = syncs.start(self.provider)
        wait_until(lambda: self.served.simulator.stats.by_status[429] > 0, timeout=60, what="the source to refuse")
        return run_id


@pytest.fixture
def storm(serve: Serve, e2e_settings: Settings, db: Engine) -> Storm:
    served = serve(roster())
    served.simulator.faults.update({"rate_limit_every": 1, "rate_limit_burst": 1_000_000, "retry_after": 60})
    settings = e2e_settings.model_copy(update={"redis_namespace": f"sis-test-{uuid.uuid4().hex[:8]}"})
    return Storm(served, settings, served.provider(db, settings, ProviderType.ONEROSTER_API))


def test_cancel_during_a_retry_storm_ends_the_run_within_seconds_with_every_step_terminal(
    storm: Storm, db: Engine, log_dir: Path
) -> None:
    # one worker thread, busy waiting out the source: only the wait itself can notice the cancel
    worker = start_worker(storm.settings, log_dir, threads=1)
    syncs = Syncs(storm.settings, db)
    try:
        run_id = storm.start(syncs)
        with db.begin() as conn:
            cancel = runs.request_cancel(conn, run_id, requested_by="admin")
        assert cancel is not None
        cancelled_at = time.monotonic()
        syncs.send(cancel_sync(run_id))
        run = syncs.wait(run_id, timeout=30)
        took = time.monotonic() - cancelled_at
    finally:
        syncs.close()
        worker.stop()
    assert run["status"] == SyncStatus.CANCELLED
    assert took < 5, f"cancel took {took:.1f} s"
    with db.connect() as conn:
        states = conn.execute(text("SELECT status FROM sis_sync_run_steps WHERE run_id = :r"), {"r": run_id})
        assert {row.status for row in states} <= {"done", "failed", "skipped", "cancelled"}


def test_a_worker_stopping_during_a_retry_storm_exits_in_seconds_and_hands_its_message_on(
    storm: Storm, db: Engine, log_dir: Path
) -> None:
    # running phases may take a minute to finish on SIGTERM; a phase that is only waiting does not
    worker = start_worker(storm.settings, log_dir, threads=1, shutdown_ms=60_000)
    syncs = Syncs(storm.settings, db)
    try:
        run_id = storm.start(syncs)
        stopping_at = time.monotonic()
        worker.stop(timeout=90)
        took = time.monotonic() - stopping_at
        # the message went back to the queue: a new worker on a calm source finishes the run
        storm.served.simulator.faults.update({"rate_limit_every": 0})
        second = start_worker(storm.settings, log_dir, threads=2)
        try:
            run = syncs.wait(run_id, timeout=180)
        finally:
            second.stop()
    finally:
        syncs.close()
        worker.stop()
    assert took < 10, f"the worker took {took:.1f} s to stop"
    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]


@pytest.mark.parametrize(
    "provider_type", [ProviderType.ONEROSTER_API, ProviderType.CLASSLINK], ids=["generic", "classlink"]
)
def test_a_connection_test_reads_every_collection_and_names_the_one_the_credentials_cannot_read(
    serve: Serve, provider_type: ProviderType
) -> None:
    flavour = "classlink" if provider_type is ProviderType.CLASSLINK else "generic"
    served = serve(roster(), flavour=flavour, denied=frozenset({"enrollments"}))
    config = {
        "clientId": served.simulator.options.client_id,
        "clientSecret": served.simulator.options.client_secret,
        "baseUrl": served.base_url,
    }
    if provider_type is ProviderType.CLASSLINK:
        config["tenantId"] = served.simulator.options.tenant
    context = ConnectorContext(provider_id="p1", egress=EgressPolicy(allow_private=True))
    connector = registry.build_connector(provider_type, config, context)
    try:
        result = connector.test_connection()
    finally:
        connector.close()
    assert not result.success
    assert "/enrollments" in result.message, result.message
    assert "insufficient_scope" in result.message
    # the collections before it were read, one page each
    assert {"orgs", "academicSessions", "classes", "users"} <= set(served.simulator.stats.pages)
