"""Whole runs from packages on a real sshd: what applies, what deactivates, and what never does."""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine

from libs.enums import ProviderType, SyncStatus
from tests.connectors.oneroster_csv.conftest import ENROLLMENTS, ORGS, SESSIONS, USERS, manifest
from tests.etl.conftest import Driver
from tests.support.providers import create_provider, run_row, store_counts, store_versions

CLASSES = (
    "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
    "schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n"
)
STUDENTS = 6


def bulk(**overrides: str) -> dict[str, str]:
    users = "".join(
        f"stu-{i},,,true,sch-1,student,s{i},,Student,N{i},,{1000 + i},s{i}@x.org,,,,09,\n" for i in range(STUDENTS)
    )
    users += "tch-1,,,true,sch-1,teacher,t1,,Teacher,One,,T1,t1@x.org,,,,,\n"
    enrollments = "".join(f"enr-{i},,,cls-1,sch-1,stu-{i},student,false,,\n" for i in range(STUDENTS))
    enrollments += "enr-t,,,cls-1,sch-1,tch-1,teacher,true,,\n"
    files = {
        "manifest.csv": manifest(
            orgs="bulk", academicSessions="bulk", classes="bulk", users="bulk", enrollments="bulk"
        ),
        "orgs.csv": ORGS + "dist,,,District,district,,\nsch-1,,,North High,school,042,dist\n",
        "academicSessions.csv": SESSIONS + "fall,,,Fall,semester,2026-08-20,2026-12-20,,2027\n",
        "classes.csv": CLASSES + "cls-1,,,Algebra,09,crs-1,ALG,scheduled,,sch-1,fall,Math,,1\n",
        "users.csv": USERS + users,
        "enrollments.csv": ENROLLMENTS + enrollments,
    }
    files.update(overrides)
    return files


def publish(folder: Path, files: dict[str, str | bytes], name: str = "roster.zip") -> Path:
    """Replace the folder's package with this one, as the SIS's nightly export does."""
    for old in folder.glob("*.zip"):
        old.unlink()
    archive = folder / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, content in files.items():
            zf.writestr(member, content)
    archive.chmod(0o644)
    return archive


def sftp_config(sshd, **overrides) -> dict:
    """The fixture's login with the key as text: the engine's settings have no SFTP_KEY_DIR for key paths."""
    return sshd.sftp_config(privateKeyPath=None, privateKey=sshd.key_text, **overrides)


@pytest.fixture
def drop(sshd) -> Path:
    return sshd.folder(f"sync-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def provider(sshd, ctx, drop: Path):
    config = {"sftp": sftp_config(sshd), "remotePath": str(drop), "stableSeconds": 0.2}
    return create_provider(ctx.engine, ctx.settings, provider_type=ProviderType.ONEROSTER_CSV, config=config)


def active(db: Engine) -> dict[str, int]:
    return {table: a for table, (a, _) in store_counts(db, "district-1").items()}


def first_sync(driver: Driver, provider, drop: Path, db: Engine) -> None:
    publish(drop, bulk())
    run = run_row(db, driver.sync(provider))
    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert active(db) == {"schools": 1, "terms": 1, "classes": 1, "users": STUDENTS + 1, "enrollments": STUDENTS + 1}


def test_bulk_package_over_sftp_syncs_and_records_the_package(driver: Driver, provider, drop: Path, db: Engine):
    archive = publish(drop, bulk())

    run = run_row(db, driver.sync(provider))

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert run["stats"]["users"]["created"] == STUDENTS + 1
    package = run["source"]["steps"]["package"]["package"]
    assert (package["name"], package["size"]) == ("roster.zip", archive.stat().st_size)
    assert len(package["sha256"]) == 64


def test_delta_package_applies_only_its_rows(driver: Driver, provider, drop: Path, db: Engine):
    first_sync(driver, provider, drop, db)
    before = store_versions(db)
    publish(
        drop,
        {
            "manifest.csv": manifest(users="delta", enrollments="delta"),
            "users.csv": USERS
            + "stu-new,active,2026-09-01T10:00:00.000Z,true,sch-1,student,new,,New,Kid,,2000,new@x.org,,,,09,\n"
            + "stu-0,tobedeleted,2026-09-01T10:00:00.000Z,,,,,,,,,,,,,,,\n",
            "enrollments.csv": ENROLLMENTS + "enr-1,inactive,2026-09-01,,,,,,,\n",
        },
    )

    run = run_row(db, driver.sync(provider))

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    stats = run["stats"]
    assert (stats["users"]["created"], stats["users"]["deactivated"]) == (1, 1)
    assert stats["enrollments"]["deactivated"] == 1
    # everything the delta does not mention is untouched, though absent from it
    assert active(db) == {"schools": 1, "terms": 1, "classes": 1, "users": STUDENTS + 1, "enrollments": STUDENTS}
    after = store_versions(db)
    for table in ("schools", "terms", "classes"):
        assert after[table] == before[table]


def test_tobedeleted_and_inactive_rows_in_a_bulk_file_deactivate(driver: Driver, provider, drop: Path, db: Engine):
    first_sync(driver, provider, drop, db)
    users = bulk()["users.csv"].replace("stu-2,,,true", "stu-2,tobedeleted,2026-09-01,true")
    # the student's own enrollment goes with them; another one is marked 1.0-style inactive
    enrollments = (
        bulk()["enrollments.csv"]
        .replace("enr-2,,,", "enr-2,tobedeleted,2026-09-01,")
        .replace("enr-3,,,", "enr-3,inactive,2026-09-01,")
    )
    publish(drop, bulk(**{"users.csv": users, "enrollments.csv": enrollments}))

    run = run_row(db, driver.sync(provider))

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert run["stats"]["users"]["deactivated"] == 1
    assert run["stats"]["enrollments"]["deactivated"] == 2


BROKEN = {
    "header typo": (
        {"users.csv": USERS.replace("sourcedId", "sourcedld", 1) + "stu-0,,,true,sch-1,student,,,A,B,,,,,,,,\n"},
        "users.csv: required column 'sourcedId' is missing (found 'sourcedld')",
    ),
    "BOM glued onto a header name": (
        {"orgs.csv": "sourcedId,name,\ufefftype\nsch-1,North High,school\n"},
        "orgs.csv: required column 'type' is missing (found '\\ufefftype', which contains invisible characters)",
    ),
    "empty enrollments.csv": ({"enrollments.csv": ""}, "enrollments.csv is empty (0 bytes)"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_package_fails_naming_the_cause_and_deactivates_nothing(
    driver: Driver, provider, drop: Path, db: Engine, case: str
):
    first_sync(driver, provider, drop, db)
    before = store_versions(db)
    overrides, cause = BROKEN[case]
    publish(drop, bulk(**overrides))

    run = run_row(db, driver.sync(provider))

    assert run["status"] == SyncStatus.FAILURE
    assert cause in run["error_message"]
    assert store_versions(db) == before


def test_truncated_zip_fails_naming_it_and_deactivates_nothing(driver: Driver, provider, drop: Path, db: Engine):
    first_sync(driver, provider, drop, db)
    before = store_versions(db)
    archive = publish(drop, bulk())
    archive.write_bytes(archive.read_bytes()[:-100])

    run = run_row(db, driver.sync(provider))

    assert run["status"] == SyncStatus.FAILURE
    assert "roster.zip is not a complete zip archive" in run["error_message"]
    assert store_versions(db) == before


def test_package_starting_with_a_bom_syncs_normally(driver: Driver, provider, drop: Path, db: Engine):
    first_sync(driver, provider, drop, db)
    before = store_versions(db)
    publish(drop, {name: "\ufeff" + text for name, text in bulk().items()})

    run = run_row(db, driver.sync(provider))

    assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
    assert store_versions(db) == before


def test_cut_off_enrollments_file_deactivates_no_enrollment(driver: Driver, provider, drop: Path, db: Engine):
    first_sync(driver, provider, drop, db)
    cut = bulk()["enrollments.csv"].rsplit("enr-", 3)[0] + "enr-x,,,cls-1"
    publish(drop, bulk(**{"enrollments.csv": cut}))

    before = store_versions(db)

    run = run_row(db, driver.sync(provider))

    # the run holds for review (requireApproval onGuard) and its plan deactivates no enrollment
    assert run["status"] == SyncStatus.HELD
    assert "enrollments: extract incomplete (enrollments.csv: the last row" in run["error_message"]
    assert run["stats"]["plan"]["enrollments"]["deactivate"] == 0
    assert store_versions(db) == before
    assert active(db)["enrollments"] == STUDENTS + 1


def test_changed_host_key_fails_the_run_without_touching_the_store(sshd, ctx, driver: Driver, drop: Path, db: Engine):
    publish(drop, bulk())
    config = {
        "sftp": sftp_config(sshd, hostKeyFingerprint="SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"),
        "remotePath": str(drop),
    }
    provider_id = create_provider(db, ctx.settings, provider_type=ProviderType.ONEROSTER_CSV, config=config)

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.FAILURE
    assert "does not match hostKeyFingerprint" in run["error_message"]
    assert active(db) == {"schools": 0, "terms": 0, "classes": 0, "users": 0, "enrollments": 0}
