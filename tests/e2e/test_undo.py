"""Undo end to end: a real worker applies a churn run, a mass deactivation and later changes; an
admin undoes them over HTTP (the undo is a run of its own), undoes the undo, meets a conflict,
and a worker killed mid-undo leaves a run that finishes with the same result."""

from __future__ import annotations

import csv
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.auth import mint_token
from libs.enums import ProviderType, SyncStatus
from libs.etl import ledger, undo
from libs.etl.phase import start_sync
from libs.settings import Settings
from tests.support.api import ThreadedApi
from tests.support.providers import create_provider, update_config
from tests.support.workers import ServiceProcess, Syncs, start_worker, wait_until

pytestmark = pytest.mark.e2e

ADMIN = "undoer@district"
TABLES = ("schools", "terms", "classes", "users", "enrollments")


@pytest.fixture(scope="module")
def district() -> District:
    return District(DistrictSpec(students=200, teachers=16, schools=2, seed=31))


@pytest.fixture(scope="module")
def packages(district: District, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("undo")
    base = write_oneroster_csv(district, root / "base")
    churned = write_oneroster_csv(district.with_churn(percent=1.0, seed=5), root / "churned")
    return {"base": base, "churned": churned, "thinned": _drop_users(base, root / "thinned", share=0.3)}


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)


def _drop_users(base: Path, target: Path, *, share: float) -> Path:
    """The first `share` of the users gone, with their enrollments."""
    shutil.copytree(base, target)
    header, users = _rows(target / "users.csv")
    gone = {u["sourcedId"] for u in users[: int(len(users) * share)]}
    _write(target / "users.csv", header, [u for u in users if u["sourcedId"] not in gone])
    header, enrollments = _rows(target / "enrollments.csv")
    _write(target / "enrollments.csv", header, [e for e in enrollments if e["userSourcedId"] not in gone])
    return target


def snapshot(db: Engine, tenant: str, provider_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """Every column of every store row of the tenant and link row of the provider, bookkeeping
    (created_at, updated_at, deactivated_at, run ids) included."""
    out: dict[str, dict[str, Any]] = {}
    with db.connect() as conn:
        for table in TABLES:
            rows = conn.execute(
                text(f"SELECT t.id::text, to_jsonb(t) FROM {table} t WHERE tenant_id = :t"), {"t": tenant}
            )
            out[table] = {row[0]: row[1] for row in rows}
        rows = conn.execute(
            text(
                "SELECT l.entity_type || '/' || l.external_id, to_jsonb(l) FROM sis_entity_links l "
                "WHERE provider_id = :p"
            ),
            {"p": provider_id},
        )
        out["sis_entity_links"] = {row[0]: row[1] for row in rows}
    return out


def assert_restored(
    now: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]], *, kept: frozenset[str] = frozenset()
) -> None:
    """Every row of `before` exactly as it was; a row created since is there (never deleted) and
    inactive. `kept`: keys (store ids, `type/external id` of links) left as a later run made them."""
    for table, rows in before.items():
        assert {k: now[table][k] for k in rows if k not in kept} == {k: v for k, v in rows.items() if k not in kept}
        created = set(now[table]) - set(rows) - kept
        assert all(not now[table][k]["active"] for k in created), table


class Api:
    def __init__(self, url: str, settings: Settings, tenant: str) -> None:
        assert settings.auth_jwt_secret is not None
        token = mint_token(settings.auth_jwt_secret, subject=ADMIN, roles=["DISTRICT_ADMIN"], tenant_id=tenant)
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def undo(self, run_id: uuid.UUID, **body: Any) -> uuid.UUID:
        answer = self.http.post(f"/api/v1/runs/{run_id}/undo", json=body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["undoOf"] == str(run_id)
        return uuid.UUID(answer.json()["runId"])

    def run(self, run_id: uuid.UUID) -> dict[str, Any]:
        answer = self.http.get(f"/api/v1/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.fixture(scope="module")
def api_server(e2e_settings: Settings) -> Iterator[ThreadedApi]:
    with ThreadedApi(e2e_settings.model_copy(update={"api_requests_per_minute": 100_000})) as server:
        yield server


@pytest.fixture
def tenant() -> str:
    return f"district-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def api(api_server: ThreadedApi, e2e_settings: Settings, tenant: str, worker: ServiceProcess) -> Iterator[Api]:
    client = Api(api_server.url, e2e_settings, tenant)
    yield client
    client.http.close()


def _provider(db: Engine, settings: Settings, package: Path, tenant: str) -> uuid.UUID:
    return create_provider(
        db, settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(package)}, tenant_id=tenant
    )


def _unchanged_since(run: dict[str, Any]) -> list[Any]:
    return [s.get("unchangedSince") for s in (run["source"] or {}).get("steps", {}).values() if s.get("unchangedSince")]


def test_undo_of_a_churn_run_restores_every_column_and_undoing_the_undo_redoes_it(
    api: Api, syncs: Syncs, db: Engine, e2e_settings: Settings, packages: dict[str, Path], tenant: str
) -> None:
    provider_id = _provider(db, e2e_settings, packages["base"], tenant)
    assert syncs.run(provider_id)["status"] == SyncStatus.SUCCESS
    before = snapshot(db, tenant, provider_id)

    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["churned"])})
    churn = syncs.run(provider_id)
    assert churn["status"] == SyncStatus.SUCCESS, churn["error_message"]
    churned = snapshot(db, tenant, provider_id)
    assert churned != before

    # the confirmation counts what the undo would do, from the run's ledger
    preview = api.http.get(f"/api/v1/runs/{churn['id']}/undo").json()
    assert preview["conflicts"] == []
    assert preview["entities"]["users"]["deactivated"] == churn["stats"]["users"]["created"]
    assert preview["entities"]["users"]["reactivated"] == churn["stats"]["users"]["deactivated"]

    undo_id = api.undo(churn["id"])
    undone = syncs.wait(undo_id)
    assert undone["status"] == SyncStatus.SUCCESS, undone["error_message"]
    assert undone["kind"] == "undo"
    assert_restored(snapshot(db, tenant, provider_id), before)
    assert undone["stats"]["users"]["reactivated"] == churn["stats"]["users"]["deactivated"]
    assert undone["stats"]["users"]["deactivated"] == churn["stats"]["users"]["created"]

    # linked both ways in the history, and the audit log names who asked
    assert api.run(churn["id"])["undoneBy"] == [str(undo_id)]
    assert api.run(undo_id)["undoOf"] == str(churn["id"])
    with db.connect() as conn:
        actor = conn.execute(
            text("SELECT actor FROM audit_log WHERE action = 'sync.undo_requested' AND target_id = :r"),
            {"r": str(undo_id)},
        ).scalar_one()
    assert actor == ADMIN

    # undoing the undo gives the churned state back, every column of every row
    redo = syncs.wait(api.undo(undo_id))
    assert redo["status"] == SyncStatus.SUCCESS, redo["error_message"]
    assert snapshot(db, tenant, provider_id) == churned

    # an undo breaks the no-change chain: the next sync reads the package again
    after = syncs.run(provider_id)
    assert after["status"] == SyncStatus.SUCCESS, after["error_message"]
    assert _unchanged_since(after) == []

    # once the ledger is pruned (LEDGER_RETENTION_DAYS), undo says it is no longer available
    with db.begin() as conn:
        conn.execute(
            text("UPDATE sis_sync_runs SET completed_at = now() - interval '91 days' WHERE id = :r"), {"r": churn["id"]}
        )
        assert ledger.prune(conn, 90) >= 1
    refused = api.http.post(f"/api/v1/runs/{churn['id']}/undo", json={})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/undo-unavailable")
    assert "no longer available" in refused.json()["detail"]


def test_undo_of_a_mass_deactivation_reactivates_exactly_those_users_and_their_enrollments(
    api: Api, syncs: Syncs, db: Engine, e2e_settings: Settings, packages: dict[str, Path], tenant: str
) -> None:
    provider_id = _provider(db, e2e_settings, packages["base"], tenant)
    assert syncs.run(provider_id)["status"] == SyncStatus.SUCCESS
    before = snapshot(db, tenant, provider_id)

    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["thinned"])})
    mass = syncs.run(provider_id, options={"allowMassDeactivation": True})
    assert mass["status"] == SyncStatus.SUCCESS, mass["error_message"]
    gone = {k for k, v in snapshot(db, tenant, provider_id)["users"].items() if not v["active"]}
    assert len(gone) == mass["stats"]["users"]["deactivated"] > 0.25 * len(before["users"])

    undone = syncs.wait(api.undo(mass["id"]))
    assert undone["status"] == SyncStatus.SUCCESS, undone["error_message"]
    assert undone["stats"]["users"]["reactivated"] == len(gone)
    assert undone["stats"]["enrollments"]["reactivated"] == mass["stats"]["enrollments"]["deactivated"]
    assert snapshot(db, tenant, provider_id) == before


def test_a_row_a_later_run_changed_is_a_conflict_and_kept_unless_forced(
    api: Api,
    syncs: Syncs,
    db: Engine,
    e2e_settings: Settings,
    packages: dict[str, Path],
    tenant: str,
    tmp_path: Path,
) -> None:
    provider_id = _provider(db, e2e_settings, packages["base"], tenant)
    assert syncs.run(provider_id)["status"] == SyncStatus.SUCCESS
    before = snapshot(db, tenant, provider_id)
    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["churned"])})
    churn = syncs.run(provider_id)
    assert churn["status"] == SyncStatus.SUCCESS

    # a later run renames one of the users the churn run updated
    with db.connect() as conn:
        user_id, external_id = conn.execute(
            text(
                "SELECT c.entity_id, l.external_id FROM sis_change_ledger c JOIN sis_entity_links l "
                "ON l.entity_id = c.entity_id AND l.provider_id = :p AND l.entity_type = 'user' "
                "WHERE c.run_id = :r AND c.target = 'entity' AND c.entity_type = 'user' AND c.action = 'update' "
                "ORDER BY 2 LIMIT 1"
            ),
            {"r": churn["id"], "p": provider_id},
        ).one()
    later_package = shutil.copytree(packages["churned"], tmp_path / "later")
    header, users = _rows(later_package / "users.csv")
    for user in users:
        if user["sourcedId"] == external_id:
            user["givenName"] = "Renamedlater"
    _write(later_package / "users.csv", header, users)
    update_config(db, e2e_settings, provider_id, {"localPath": str(later_package)})
    later = syncs.run(provider_id)
    assert later["status"] == SyncStatus.SUCCESS
    assert later["stats"]["users"]["updated"] == 1

    preview = api.http.get(f"/api/v1/runs/{churn['id']}/undo").json()
    assert {(c["entityType"], c["laterRunId"]) for c in preview["conflicts"]} == {("user", str(later["id"]))}

    undone = syncs.wait(api.undo(churn["id"]))
    assert undone["status"] == SyncStatus.PARTIAL
    with db.connect() as conn:
        errors = conn.execute(
            text("SELECT external_id, code, message FROM sis_sync_errors WHERE run_id = :r"), {"r": undone["id"]}
        ).all()
        name = conn.execute(text("SELECT given_name FROM users WHERE id = :u"), {"u": user_id}).scalar_one()
    assert {(e.external_id, e.code) for e in errors} == {(external_id, "undo_conflict")}
    assert all(str(later["id"]) in e.message for e in errors)
    assert name == "Renamedlater"
    # every other row is restored
    assert_restored(snapshot(db, tenant, provider_id), before, kept=frozenset({str(user_id), f"user/{external_id}"}))

    # forced, the later run's rename is taken back too
    forced = syncs.wait(api.undo(churn["id"], force=True))
    assert forced["status"] == SyncStatus.SUCCESS, forced["error_message"]
    assert_restored(snapshot(db, tenant, provider_id), before)


@pytest.fixture
def blocked_enrollments(database_url: str) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(database_url)
    conn.execute("LOCK TABLE enrollments IN SHARE ROW EXCLUSIVE MODE")
    yield conn
    conn.rollback()
    conn.close()


def test_an_undo_killed_mid_way_finishes_on_resume_with_the_same_result(
    db: Engine,
    e2e_settings: Settings,
    packages: dict[str, Path],
    log_dir: Path,
    tenant: str,
    blocked_enrollments: psycopg.Connection,
) -> None:
    # its own queues, so the session's worker does not take these runs
    settings = e2e_settings.model_copy(update={"redis_namespace": f"sis-test-{uuid.uuid4().hex[:8]}"})
    provider_id = _provider(db, settings, packages["base"], tenant)
    first = start_worker(settings, log_dir, threads=2)
    syncs = Syncs(settings, db)
    second: ServiceProcess | None = None
    try:
        blocked_enrollments.rollback()
        assert syncs.run(provider_id)["status"] == SyncStatus.SUCCESS
        before = snapshot(db, tenant, provider_id)
        update_config(db, settings, provider_id, {"localPath": str(packages["churned"])})
        churn = syncs.run(provider_id)
        assert churn["status"] == SyncStatus.SUCCESS
        blocked_enrollments.execute("LOCK TABLE enrollments IN SHARE ROW EXCLUSIVE MODE")
        with db.begin() as conn:
            requested = undo.request(conn, churn["id"], by="test", force=False)
        syncs.send(start_sync(requested.run_id))

        def blocked() -> bool:
            with db.connect() as conn:
                phase = conn.execute(
                    text("SELECT phase FROM sis_sync_runs WHERE id = :r"), {"r": requested.run_id}
                ).scalar()
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query LIKE '%enrollments%' AND query NOT LIKE '%pg_stat%'"
                    )
                ).scalar_one()
            return phase == "undo:enrollment" and waiting > 0

        wait_until(blocked, timeout=120, interval=0.05, what="the undo of enrollments to block")
        first.kill()
        blocked_enrollments.rollback()
        second = start_worker(settings, log_dir, threads=2)
        undone = syncs.wait(requested.run_id, timeout=180)
    finally:
        syncs.close()
        first.stop()
        if second is not None:
            second.stop()
    assert undone["status"] == SyncStatus.SUCCESS, undone["error_message"]
    assert_restored(snapshot(db, tenant, provider_id), before)
    with db.connect() as conn:
        # the redelivered part wrote its ledger once
        duplicated = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT entity_id FROM sis_change_ledger WHERE run_id = :r AND target = 'entity' "
                "GROUP BY entity_id HAVING count(*) > 1) d"
            ),
            {"r": requested.run_id},
        ).scalar_one()
    assert duplicated == 0
