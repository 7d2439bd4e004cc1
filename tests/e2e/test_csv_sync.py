"""An S-tier district from a local OneRoster folder, through the real broker and worker."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.db.models.staging import STAGING_TABLES
from libs.enums import LOAD_ORDER, EntityType, ProviderType, SyncStatus
from libs.settings import Settings
from tests.support.providers import assert_stats_add_up, create_provider, store_counts, store_versions, update_config
from tests.support.workers import Syncs

pytestmark = pytest.mark.e2e

TABLES = {
    EntityType.SCHOOL: "schools",
    EntityType.TERM: "terms",
    EntityType.CLASS: "classes",
    EntityType.USER: "users",
    EntityType.ENROLLMENT: "enrollments",
}


@pytest.fixture(scope="module")
def base() -> District:
    return District(DistrictSpec.for_tier("S", seed=7))


@pytest.fixture(scope="module")
def packages(base: District, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("packages")
    churned = base.with_churn(percent=1.0, seed=8)
    return {
        "base": write_oneroster_csv(base, root / "base"),
        "churned": write_oneroster_csv(churned, root / "churned"),
    }


def test_s_tier_full_resync_churn_and_return(
    syncs: Syncs, db: Engine, e2e_settings: Settings, base: District, packages: dict[str, Path]
) -> None:
    provider_id = create_provider(
        db, e2e_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(packages["base"])}
    )

    # Given a new provider, when the first sync runs, then the store holds exactly the district
    first = syncs.run(provider_id)
    assert first["status"] == SyncStatus.SUCCESS, first["error_message"]
    expected = base.counts()
    assert {t: a for t, (a, _) in store_counts(db, "district-1").items()} == {TABLES[e]: n for e, n in expected.items()}
    for entity in LOAD_ORDER:
        assert first["stats"][entity.plural]["created"] == expected[entity]

    # When the same package syncs again, then everything is unchanged and no store row is written
    before = store_versions(db)
    second = syncs.run(provider_id)
    assert second["status"] == SyncStatus.SUCCESS
    assert store_versions(db) == before
    assert second["stats"]["rowsWritten"] == 0
    for entity in LOAD_ORDER:
        assert second["stats"][entity.plural]["unchanged"] == expected[entity]

    # When 1% churn arrives, then the run reports exactly the generator's churn
    churned = base.with_churn(percent=1.0, seed=8)
    churn = churned.churn
    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["churned"])})
    third = syncs.run(provider_id)
    assert third["status"] == SyncStatus.SUCCESS, third["error_message"]
    for entity in LOAD_ORDER:
        stats, change = third["stats"][entity.plural], churn[entity]
        assert (stats["created"], stats["updated"], stats["deactivated"]) == (
            change.added,
            change.updated,
            change.dropped,
        ), entity
    dropped_users = churn[EntityType.USER].dropped
    assert dropped_users > 0
    remaining = {u.external_id for u in churned.users()}
    dropped_students = [u.external_id for u in base.users() if u.external_id not in remaining and u.role == "student"]
    assert dropped_students
    # the store itself says so, not only the stats: soft-deleted, with the time it happened
    assert _states(db, provider_id, dropped_students) == {(False, True)}

    # When the dropped students come back, then they are reactivated, not created again
    update_config(db, e2e_settings, provider_id, {"localPath": str(packages["base"])})
    fourth = syncs.run(provider_id)
    assert fourth["status"] == SyncStatus.SUCCESS, fourth["error_message"]
    assert fourth["stats"]["users"]["reactivated"] == dropped_users
    assert _states(db, provider_id, dropped_students) == {(True, False)}
    assert fourth["stats"]["users"]["created"] == 0
    with db.connect() as conn:
        people = conn.execute(text("SELECT count(*) FROM users")).scalar_one()
    assert people == expected[EntityType.USER] + churn[EntityType.USER].added


def test_a_second_source_links_the_tenants_people_and_a_blank_given_name_changes_no_one(
    syncs: Syncs, db: Engine, e2e_settings: Settings, base: District, packages: dict[str, Path], tmp_path: Path
) -> None:
    first = create_provider(
        db, e2e_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(packages["base"])}
    )
    assert syncs.run(first)["status"] == SyncStatus.SUCCESS
    # the same district from a second source, where two more students have no email: one matches
    # by student number, the other also has no given name
    folder = shutil.copytree(packages["base"], tmp_path / "second")
    with (folder / "users.csv").open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        header, rows = list(reader.fieldnames or []), list(reader)
    students = [i for i, row in enumerate(rows) if row["role"] == "student" and row["identifier"]]
    by_number, blank = rows[students[0]], rows[students[1]]
    by_number["email"] = blank["email"] = ""
    blank["givenName"] = ""
    with (folder / "users.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, header)
        writer.writeheader()
        writer.writerows(rows)
    second = create_provider(
        db, e2e_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(folder)}, name="Second"
    )

    run = syncs.run(second)

    assert run["status"] == SyncStatus.PARTIAL
    users = run["stats"]["users"]
    by_numbers = sum(1 for row in rows if row["role"] == "student" and row["identifier"] and not row["email"]) - 1
    assert by_numbers > 0
    assert (users["created"], users["errors"], users["matchedByStudentNumber"]) == (0, 1, by_numbers)
    assert users["matchedByEmail"] == users["linked"] - by_numbers == len(rows) - 1 - by_numbers
    with db.connect() as conn:
        error = conn.execute(
            text("SELECT code, field, source, line FROM sis_sync_errors WHERE run_id = :r AND entity_type = 'user'"),
            {"r": run["id"]},
        ).one()
        kept = conn.execute(
            text(
                "SELECT u.given_name FROM sis_entity_links l JOIN users u ON u.id = l.entity_id "
                "WHERE l.provider_id = :p AND l.entity_type = 'user' AND l.external_id = :x"
            ),
            {"p": first, "x": blank["sourcedId"]},
        ).scalar_one()
    assert tuple(error) == ("missing_value", "given_name", "users.csv", students[1] + 2)
    # the person keeps the name the first source gave
    assert kept == next(u.given_name for u in base.users() if u.external_id == blank["sourcedId"])


def _states(db: Engine, provider_id: object, external_ids: list[str]) -> set[tuple[bool, bool]]:
    """(active, has deactivated_at) of the users this provider links to these ids."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT u.active, u.deactivated_at IS NOT NULL AS deactivated
                  FROM sis_entity_links l JOIN users u ON u.id = l.entity_id
                 WHERE l.provider_id = :p AND l.entity_type = 'user' AND l.external_id = ANY(:ids)
                """
            ),
            {"p": provider_id, "ids": external_ids},
        ).all()
    assert len(rows) == len(external_ids)
    return {(row.active, row.deactivated) for row in rows}


def test_an_unchanged_package_is_not_read_again_and_one_changed_cell_is_found(
    syncs: Syncs, db: Engine, e2e_settings: Settings, base: District, packages: dict[str, Path], tmp_path: Path
) -> None:
    folder = shutil.copytree(packages["base"], tmp_path / "package")
    provider_id = create_provider(
        db, e2e_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(folder)}
    )
    first = syncs.run(provider_id)
    assert first["status"] == SyncStatus.SUCCESS, first["error_message"]
    expected = base.counts()

    # Given the package the last run applied, then the run reads none of it and says everything
    # is unchanged, with the same counts a full read reports
    before = store_versions(db)
    second = syncs.run(provider_id)
    assert second["status"] == SyncStatus.SUCCESS, second["error_message"]
    assert _unchanged_since(second) == {str(first["id"])}
    assert _staged(db, second["id"]) == 0
    assert second["stats"]["rowsWritten"] == 0
    assert store_versions(db) == before
    for entity in LOAD_ORDER:
        stats = second["stats"][entity.plural]
        assert (stats["received"], stats["unchanged"]) == (expected[entity], expected[entity]), entity
    assert_stats_add_up(second)

    # When one cell of one file changes in place, then the run reads the package and finds exactly it
    with (folder / "users.csv").open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        header, rows = list(reader.fieldnames or []), list(reader)
    changed = rows[len(rows) // 2]
    changed["givenName"] = changed["givenName"] + "-renamed"
    with (folder / "users.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, header)
        writer.writeheader()
        writer.writerows(rows)
    third = syncs.run(provider_id)
    assert third["status"] == SyncStatus.SUCCESS, third["error_message"]
    assert _unchanged_since(third) == set()
    for entity in LOAD_ORDER:
        stats = third["stats"][entity.plural]
        changes = (stats["created"], stats["updated"], stats["deactivated"], stats["reactivated"])
        assert changes == ((0, 1, 0, 0) if entity is EntityType.USER else (0, 0, 0, 0)), entity
    with db.connect() as conn:
        name = conn.execute(
            text(
                "SELECT u.given_name FROM sis_entity_links l JOIN users u ON u.id = l.entity_id "
                "WHERE l.provider_id = :p AND l.entity_type = 'user' AND l.external_id = :x"
            ),
            {"p": provider_id, "x": changed["sourcedId"]},
        ).scalar_one()
    assert name == changed["givenName"]

    # and the changed package, once applied, is the one the next run need not read
    assert _unchanged_since(syncs.run(provider_id)) == {str(third["id"])}

    # When the provider's settings change, then the package is read again under them
    update_config(db, e2e_settings, provider_id, {"localPath": str(folder)})
    fifth = syncs.run(provider_id)
    assert fifth["status"] == SyncStatus.SUCCESS, fifth["error_message"]
    assert _unchanged_since(fifth) == set()
    assert fifth["stats"]["users"]["unchanged"] == expected[EntityType.USER]


def _unchanged_since(run: dict[str, Any]) -> set[str]:
    """The runs whose package this run's extract steps found unchanged (none: it read them)."""
    steps = (run["source"] or {}).get("steps", {})
    return {source["unchangedSince"] for source in steps.values() if source.get("unchangedSince")}


def _staged(db: Engine, run_id: object) -> int:
    with db.connect() as conn:
        return sum(
            conn.execute(text(f"SELECT count(*) FROM {table.name} WHERE run_id = :r"), {"r": run_id}).scalar_one()
            for table in STAGING_TABLES.values()
        )
