"""Held runs end to end: a real worker plans, the run holds with nothing written, an admin reviews
the change list over HTTP and approves (exactly the plan is applied) or rejects; a newer run
supersedes a held one and an undecided plan expires."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.auth import mint_token
from libs.db.models.staging import HELD_TABLES
from libs.enums import EntityType, ProviderType, SyncStatus
from libs.settings import Settings
from services.scheduler.tick import tick
from tests.support.api import ThreadedApi
from tests.support.providers import create_provider, store_versions, update_config
from tests.support.workers import ServiceProcess, Syncs, process_env

pytestmark = pytest.mark.e2e

ADMIN = "reviewer@district"


@pytest.fixture(scope="module")
def district() -> District:
    return District(DistrictSpec(students=200, teachers=16, schools=2, seed=21))


@pytest.fixture(scope="module")
def churned(district: District) -> District:
    return district.with_churn(percent=10.0, seed=4)


@pytest.fixture(scope="module")
def packages(district: District, churned: District, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("held")
    base = write_oneroster_csv(district, root / "base")
    return {"base": base, "churned": write_oneroster_csv(churned, root / "churned"), "half": _drop_half(base, root)}


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)


def _drop_half(base: Path, root: Path) -> Path:
    """Every second user gone, with their enrollments (a summer export that looks like "half left")."""
    target = root / "half"
    shutil.copytree(base, target)
    header, users = _rows(target / "users.csv")
    kept = users[::2]
    _write(target / "users.csv", header, kept)
    ids = {u["sourcedId"] for u in kept}
    header, enrollments = _rows(target / "enrollments.csv")
    _write(target / "enrollments.csv", header, [e for e in enrollments if e["userSourcedId"] in ids])
    return target


def _dropped_users(packages: dict[str, Path]) -> set[str]:
    return {u["sourcedId"] for u in _rows(packages["base"] / "users.csv")[1]} - {
        u["sourcedId"] for u in _rows(packages["half"] / "users.csv")[1]
    }


class Api:
    """The API over a real socket, as an admin of the tenant."""

    def __init__(self, url: str, settings: Settings, tenant: str) -> None:
        assert settings.auth_jwt_secret is not None
        token = mint_token(settings.auth_jwt_secret, subject=ADMIN, roles=["DISTRICT_ADMIN"], tenant_id=tenant)
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def sync(self, provider_id: uuid.UUID, **body: Any) -> uuid.UUID:
        answer = self.http.post(f"/api/v1/providers/{provider_id}/sync", json=body)
        assert answer.status_code == 202, answer.text
        return uuid.UUID(answer.json()["runId"])

    def changes(self, run_id: uuid.UUID, **query: Any) -> list[dict[str, Any]]:
        """Every page of the change list."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {**query, **({"cursor": cursor} if cursor else {})}
            answer = self.http.get(f"/api/v1/runs/{run_id}/changes", params=params)
            assert answer.status_code == 200, answer.text
            out.extend(answer.json()["changes"])
            cursor = answer.json()["nextCursor"]
            if cursor is None:
                return out

    def decide(self, run_id: uuid.UUID, decision: str) -> httpx.Response:
        return self.http.post(f"/api/v1/runs/{run_id}/{decision}")


@pytest.fixture(scope="module")
def api_settings(e2e_settings: Settings) -> Settings:
    return e2e_settings.model_copy(update={"api_requests_per_minute": 100_000, "api_sync_triggers_per_minute": 1_000})


@pytest.fixture(scope="module")
def api_server(api_settings: Settings) -> Iterator[ThreadedApi]:
    with ThreadedApi(api_settings) as server:
        yield server


@pytest.fixture
def tenant() -> str:
    return f"district-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def api(api_server: ThreadedApi, api_settings: Settings, tenant: str, worker: ServiceProcess) -> Iterator[Api]:
    client = Api(api_server.url, api_settings, tenant)
    yield client
    client.http.close()


def _synced(db: Engine, settings: Settings, syncs: Syncs, packages: dict[str, Path], tenant: str) -> uuid.UUID:
    provider_id = create_provider(
        db,
        settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(packages["base"])},
        tenant_id=tenant,
    )
    first = syncs.run(provider_id)
    assert first["status"] == SyncStatus.SUCCESS, first["error_message"]
    return provider_id


def _inactive_users(db: Engine, provider_id: uuid.UUID) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT l.external_id FROM sis_entity_links l JOIN users u ON u.id = l.entity_id "
                "WHERE l.provider_id = :p AND l.entity_type = 'user' AND NOT l.active AND NOT u.active"
            ),
            {"p": provider_id},
        )
        return {row.external_id for row in rows}


def _kept_rows(db: Engine, run_id: uuid.UUID) -> int:
    with db.connect() as conn:
        return sum(
            conn.execute(text(f"SELECT count(*) FROM {t.name} WHERE run_id = :r"), {"r": run_id}).scalar_one()
            for t in HELD_TABLES.values()
        )


def test_half_the_users_dropped_holds_and_approve_applies_exactly_the_plan(
    api: Api, syncs: Syncs, db: Engine, e2e_settings: Settings, packages: dict[str, Path], tenant: str
) -> None:
    provider_id = _synced(db, e2e_settings, syncs, packages, tenant)
    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["half"])})
    dropped = _dropped_users(packages)

    # Given half the users gone from the export, the run holds and writes nothing
    before = store_versions(db)
    run_id = api.sync(provider_id)
    held = syncs.wait(run_id)
    assert held["status"] == SyncStatus.HELD
    assert "users: " in held["error_message"]
    assert "above the 20% threshold" in held["error_message"]
    assert store_versions(db) == before
    assert held["stats"]["plan"]["users"]["deactivate"] == len(dropped)

    # The change list shows exactly the dropped users, each named
    listed = api.changes(run_id, entity="user", action="deactivate", limit=37)
    assert {c["externalId"] for c in listed} == dropped
    assert len(listed) == len(dropped)
    assert all(c["name"] and c["entityId"] for c in listed)
    assert "rowHash" not in str(api.changes(run_id, limit=1000))

    # Approving resumes the same run, which deactivates exactly those users
    answer = api.decide(run_id, "approve")
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"runId": str(run_id), "status": "PENDING", "changed": True}
    done = syncs.wait(run_id)
    assert done["status"] == SyncStatus.SUCCESS, done["error_message"]
    assert done["stats"]["users"]["deactivated"] == len(dropped)
    assert done["options"]["approvedBy"] == ADMIN
    assert _inactive_users(db, provider_id) == dropped
    assert _kept_rows(db, run_id) == 0

    # A second approve answers with that run and starts nothing new
    again = api.decide(run_id, "approve")
    assert again.status_code == 202
    assert again.json() == {"runId": str(run_id), "status": "SUCCESS", "changed": False}
    with db.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM sis_sync_runs WHERE provider_id = :p"), {"p": provider_id}
            ).scalar_one()
            == 2
        )
        approvals = conn.execute(
            text("SELECT actor FROM audit_log WHERE action = 'sync.approved' AND target_id = :r"), {"r": str(run_id)}
        ).all()
    assert [a.actor for a in approvals] == [ADMIN]
    assert api.http.get(f"/api/v1/runs/{run_id}/changes").status_code == 409


def test_with_require_approval_never_the_same_drop_ends_partial_as_before(
    syncs: Syncs, db: Engine, e2e_settings: Settings, packages: dict[str, Path], tenant: str
) -> None:
    provider_id = _synced(db, e2e_settings, syncs, packages, tenant)
    with db.begin() as conn:
        conn.execute(
            text('UPDATE sis_providers SET options = \'{"requireApproval": "never"}\' WHERE id = :p'),
            {"p": provider_id},
        )
    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["half"])})
    run = syncs.run(provider_id)
    assert run["status"] == SyncStatus.PARTIAL
    assert "above the 20% threshold" in run["error_message"]
    assert run["stats"]["users"]["deactivated"] == 0


def test_a_preview_lists_every_churned_row_and_writes_nothing_and_approve_refuses_a_moved_user(
    api: Api,
    syncs: Syncs,
    db: Engine,
    e2e_settings: Settings,
    district: District,
    churned: District,
    packages: dict[str, Path],
    tenant: str,
    tmp_path: Path,
) -> None:
    provider_id = _synced(db, e2e_settings, syncs, packages, tenant)
    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["churned"])})

    before = store_versions(db)
    run_id = api.sync(provider_id, mode="preview")
    run = syncs.wait(run_id)
    assert run["status"] == SyncStatus.HELD
    assert "a preview was requested" in run["error_message"]
    assert store_versions(db) == before

    # every churned row is listed with its action, and each update with the fields that change
    action = {"created": "create", "updated": "update", "deleted": "deactivate"}
    expected = {(r.entity_type.value, action[kind], r.external_id) for kind, r in churned.changes_since(district)}
    listed = api.changes(run_id, limit=25)
    assert {(c["entityType"], c["action"], c["externalId"]) for c in listed} == expected
    updates = [c for c in listed if c["action"] == "update"]
    assert updates
    assert all(c["changes"] for c in updates)
    renamed = next(c for c in updates if "family_name" in c["changes"] or "given_name" in c["changes"])
    field = "family_name" if "family_name" in renamed["changes"] else "given_name"
    assert renamed["changes"][field]["from"] != renamed["changes"][field]["to"]
    # filters: by text, and the CSV download has every change
    assert [c["externalId"] for c in api.changes(run_id, q=renamed["externalId"])] == [renamed["externalId"]]
    download = api.http.get(f"/api/v1/runs/{run_id}/changes", params={"format": "csv"})
    assert download.status_code == 200
    assert {row["externalId"] for row in csv.DictReader(download.text.splitlines())} == {e[2] for e in expected}

    # another provider of the tenant changes that user (it matches by email): approve is refused, naming it
    other = tmp_path / "other"
    shutil.copytree(packages["base"], other)
    header, users = _rows(other / "users.csv")
    _write(other / "users.csv", header, [u for u in users if u["sourcedId"] == renamed["externalId"]])
    header, _ = _rows(other / "enrollments.csv")
    _write(other / "enrollments.csv", header, [])
    second = create_provider(
        db,
        e2e_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(other)},
        tenant_id=tenant,
        name="Second SIS",
    )
    assert syncs.run(second)["status"] == SyncStatus.SUCCESS
    refused = api.decide(run_id, "approve")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/plan-outdated")
    assert renamed["externalId"] in refused.json()["detail"]
    assert [m["externalId"] for m in refused.json()["moved"]] == [renamed["externalId"]]
    assert syncs.wait(run_id)["status"] == SyncStatus.HELD


def test_reject_supersede_and_expiry_end_a_held_run_cancelled_with_the_reason(
    api: Api, syncs: Syncs, db: Engine, e2e_settings: Settings, packages: dict[str, Path], tenant: str
) -> None:
    provider_id = _synced(db, e2e_settings, syncs, packages, tenant)
    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["churned"])})

    rejected = api.sync(provider_id, mode="preview")
    assert syncs.wait(rejected)["status"] == SyncStatus.HELD
    assert _kept_rows(db, rejected) > 0
    answer = api.decide(rejected, "reject")
    assert answer.status_code == 200
    assert answer.json() == {"runId": str(rejected), "status": "CANCELLED", "changed": True}
    run = syncs.wait(rejected)
    assert run["status"] == SyncStatus.CANCELLED
    assert run["error_message"] == f"Rejected by {ADMIN}"
    assert _kept_rows(db, rejected) == 0
    assert api.decide(rejected, "reject").json()["changed"] is False
    assert api.decide(rejected, "approve").status_code == 409

    superseded = api.sync(provider_id, mode="preview")
    assert syncs.wait(superseded)["status"] == SyncStatus.HELD
    newer = api.sync(provider_id, mode="preview")
    run = syncs.wait(superseded)
    assert run["status"] == SyncStatus.CANCELLED
    assert run["error_message"] == f"Superseded by run {newer}"
    assert _kept_rows(db, superseded) == 0

    # the newer one is held; a day past HELD_PLAN_TTL_HOURS the scheduler's tick ends it
    assert syncs.wait(newer)["status"] == SyncStatus.HELD
    tick(e2e_settings, now=datetime.now(UTC))
    assert syncs.wait(newer)["status"] == SyncStatus.HELD
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE sis_sync_runs SET held_at = held_at - interval '73 hours', held_until = now() - "
                "interval '1 hour' WHERE id = :r"
            ),
            {"r": newer},
        )
    tick(e2e_settings, now=datetime.now(UTC))
    run = syncs.wait(newer)
    assert run["status"] == SyncStatus.CANCELLED
    assert run["error_message"] == "The held plan expired: no decision within 73 h (HELD_PLAN_TTL_HOURS)"
    assert _kept_rows(db, newer) == 0


def test_the_cli_previews_a_sync_waits_and_prints_the_plan(
    syncs: Syncs, db: Engine, e2e_settings: Settings, churned: District, packages: dict[str, Path], tenant: str
) -> None:
    provider_id = _synced(db, e2e_settings, syncs, packages, tenant)
    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["churned"])})

    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "sync", str(provider_id), "--preview", "--wait"],
        env=process_env(e2e_settings),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    run_id = uuid.UUID(lines[0].split()[1])
    assert lines[0] == f"run {run_id} requested (preview)"
    assert any(line.startswith("in progress: ") and " steps" in line for line in lines), lines
    assert f"run {run_id} HELD: Held for review: a preview was requested" in lines
    users = next(line.split() for line in lines if line.startswith("users "))
    plan = syncs.wait(run_id)["stats"]["plan"]["users"]
    assert users == ["users", *(f"{plan[a]:,}" for a in ("create", "update", "reactivate", "link", "deactivate"))]
    assert plan["update"] == churned.churn[EntityType.USER].updated
