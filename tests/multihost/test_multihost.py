"""A district sync across three hosts: worker pools on B and C, everything else on A.

Host C's clock runs two minutes behind for every test here: the spread, the roster and the
survival of a dead host must not care.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, text

from devkit.simulators.oneroster.app import SimulatorOptions
from libs.enums import ProviderType, SyncStatus
from tests.multihost.conftest import CLOCK_OFFSET_SECONDS, LEASE_MS, Cluster
from tests.multihost.hosts import wait_for, worker_host_argv
from tests.support.providers import create_provider

pytestmark = pytest.mark.multihost

WORKER_HOSTS = {"host-b", "host-c"}
# what a roster row says, without the ids, times and tenant that differ between two districts
VOLATILE = {"id", "tenant_id", "created_at", "updated_at", "deactivated_at"}
TABLES = ("schools", "terms", "classes", "users", "enrollments")
Roster = dict[str, list[str]]


def provider(cluster: Cluster, tenant: str) -> uuid.UUID:
    return create_provider(
        cluster.db,
        cluster.settings,
        provider_type=ProviderType.ONEROSTER_API,
        tenant_id=tenant,
        config={
            "baseUrl": cluster.base_url(),
            "clientId": SimulatorOptions.client_id,
            "clientSecret": SimulatorOptions.client_secret,
            "requestsPerMinute": 600_000,
            # small pages: more requests, so a run lasts long enough to lose a host in the middle
            "pageSize": 500,
        },
    )


def steps(db: Engine, run_id: uuid.UUID) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT step, status, worker, finished_at FROM sis_sync_run_steps WHERE run_id = :r ORDER BY step"),
            {"r": run_id},
        ).all()
    return [dict(row._mapping) for row in rows]


def host_of(step: dict[str, Any]) -> str:
    return str(step["worker"]).split("/")[0]


def roster_snapshot(db: Engine, tenant: str) -> Roster:
    """Every roster row of a district, its own and its references' ids replaced by the SIS ids
    they are linked to: two districts synced from one source compare equal row for row."""
    with db.connect() as conn:
        names = {
            str(row.entity_id): f"{row.entity_type}:{row.external_id}"
            for row in conn.execute(
                text(
                    "SELECT l.entity_type, l.external_id, l.entity_id FROM sis_entity_links l "
                    "JOIN sis_providers p ON p.id = l.provider_id WHERE p.tenant_id = :t"
                ),
                {"t": tenant},
            )
        }
        out: Roster = {}
        for table in TABLES:
            rows = conn.execute(text(f"SELECT to_jsonb(t) AS r FROM {table} t WHERE tenant_id = :t"), {"t": tenant})
            out[table] = sorted(
                json.dumps(_named({k: v for k, v in row.r.items() if k not in VOLATILE} | {"self": row.r["id"]}, names))
                for row in rows
            )
    return out


def _named(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _named(v, names) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return sorted((_named(v, names) for v in value), key=json.dumps)
    if isinstance(value, str):
        return names.get(value, value)
    return value


def test_each_worker_host_is_its_own_machine_and_one_clock_is_off(cluster: Cluster) -> None:
    # own hostname, own empty /tmp (a file the test machine wrote is not there), C's clock 2 min behind
    marker = cluster.logs / "only-on-the-test-machine"
    marker.write_text("x")
    probe = f"import os, socket, time; print(socket.gethostname(), os.path.exists({str(marker)!r}), time.time())"
    clocks = {}
    for name in ("b", "c"):
        host = cluster.hosts[name]
        assert host.pids(), f"{host.hostname} runs no process"
        out = host.run(
            *worker_host_argv(host.hostname, [sys.executable, "-c", probe]), env=cluster.host_env(name)
        ).split()
        assert out[0] == host.hostname
        assert out[1] == "False", f"{host.hostname} sees the test machine's /tmp"
        clocks[name] = float(out[2])
    assert clocks["c"] - clocks["b"] == pytest.approx(CLOCK_OFFSET_SECONDS, abs=10)


def test_a_district_sync_spreads_over_both_worker_hosts(cluster: Cluster, clean_roster: Roster) -> None:
    assert cluster.clean_run_id is not None
    done = steps(cluster.db, cluster.clean_run_id)
    assert all(s["status"] == "done" for s in done)
    extract = [s for s in done if s["step"].startswith("extract:")]
    assert len(extract) > 4
    assert {host_of(s) for s in extract} == WORKER_HOSTS, [(s["step"], s["worker"]) for s in extract]
    # the phases after extract too: the run hops between hosts, not only its fan-out
    others = [s for s in done if not s["step"].startswith("extract:")]
    assert {host_of(s) for s in others} == WORKER_HOSTS, [(s["step"], s["worker"]) for s in others]
    assert clean_roster["users"]
    assert clean_roster["enrollments"]


def test_a_skewed_clock_hands_no_message_to_another_host(cluster: Cluster, clean_roster: Roster) -> None:
    # Host C is two minutes behind: had the broker used the hosts' clocks, B would have taken C
    # for dead (its heartbeats two minutes old) and run C's messages a second time
    for line in cluster.clean_run_log:
        assert "duplicate" not in line, line
        assert " ERROR " not in line, line


def test_a_csv_package_on_sftp_is_fetched_by_each_extract_step_on_its_own_host(
    cluster: Cluster, clean_roster: Roster
) -> None:
    # No host can read another's files: were an extract step to count on a package another
    # host downloaded (at plan, or in the other step), this run would fail.
    provider_id = create_provider(
        cluster.db,
        cluster.settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        tenant_id="district-sftp",
        config=cluster.sftp_config,
    )
    run = cluster.syncs.run(provider_id, timeout=300)
    assert run["status"] == SyncStatus.SUCCESS, (run["error_message"], steps(cluster.db, run["id"]))
    extract = [s for s in steps(cluster.db, run["id"]) if s["step"].startswith("extract:")]
    assert {host_of(s) for s in extract} == WORKER_HOSTS, [(s["step"], s["worker"]) for s in extract]
    counts = {table: len(rows) for table, rows in roster_snapshot(cluster.db, "district-sftp").items()}
    assert counts == {table: len(rows) for table, rows in clean_roster.items()}


def test_a_worker_host_killed_mid_run_the_other_finishes_within_the_lease(
    cluster: Cluster, clean_roster: Roster, request: pytest.FixtureRequest
) -> None:
    victim, survivor = cluster.hosts["b"], cluster.hosts["c"]
    tenant = "district-kill"
    run_id = cluster.syncs.start(provider(cluster, tenant))

    def victim_busy() -> bool:
        now = steps(cluster.db, run_id)
        busy = any(s["status"] == "running" and host_of(s) == victim.hostname for s in now)
        return busy and any(s["status"] == "done" and s["step"].startswith("extract:") for s in now)

    wait_for(victim_busy, timeout=120, what=f"{victim.hostname} to be in the middle of the run")
    request.addfinalizer(lambda: cluster.start_workers("b"))  # back, for whatever runs next
    killed_at = time.monotonic()
    assert victim.kill_all()
    assert not victim.pids()
    lost = [s["step"] for s in steps(cluster.db, run_id) if s["status"] == "running" and host_of(s) == victim.hostname]

    run = cluster.syncs.wait(run_id, timeout=LEASE_MS / 1000)
    took = time.monotonic() - killed_at
    # SUCCESS: carried on under its lease (a reaped run ends FAILURE), within the lease
    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert took < LEASE_MS / 1000
    after = {s["step"]: s for s in steps(cluster.db, run_id)}
    for step in lost:
        assert after[step]["status"] == "done"
        assert host_of(after[step]) == survivor.hostname, (step, after[step]["worker"])
    assert roster_snapshot(cluster.db, tenant) == clean_roster


@pytest.fixture(scope="module")
def clean_roster(cluster: Cluster) -> Roster:
    """A district synced with both hosts up: the roster every other run must reproduce."""
    marks = {name: len(cluster.hosts[name].output("worker")) for name in ("b", "c")}
    run = cluster.syncs.run(provider(cluster, "district-clean"), timeout=300)
    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    cluster.clean_run_id = run["id"]
    cluster.clean_run_log = [
        line for name, mark in marks.items() for line in cluster.hosts[name].output("worker")[mark:].splitlines()
    ]
    return roster_snapshot(cluster.db, "district-clean")
