"""Users are matched by link, then email, then student number; never merged on ambiguity."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Engine, text

from libs.connectors import records as r
from libs.enums import EntityType, SyncStatus
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import run_row

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]


def _existing_user(
    db: Engine,
    *,
    email: str | None = None,
    student_number: str | None = None,
    tenant: str = "district-1",
    role: str = "student",
) -> uuid.UUID:
    user_id = uuid.uuid4()
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, tenant_id, role, given_name, email, student_number) "
                "VALUES (:id, :t, :role, 'Existing', :e, :n)"
            ),
            {"id": user_id, "t": tenant, "role": role, "e": email, "n": student_number},
        )
    return user_id


def _user_of(db: Engine, provider_id: uuid.UUID, external_id: str) -> uuid.UUID | None:
    with db.connect() as conn:
        return conn.execute(
            text(
                "SELECT entity_id FROM sis_entity_links WHERE provider_id = :p AND entity_type = 'user' "
                "AND external_id = :x"
            ),
            {"p": provider_id, "x": external_id},
        ).scalar()


def test_an_existing_user_is_matched_by_email_case_insensitively(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    existing = _existing_user(db, email="S1@Example.org")
    provider_id, _ = make_provider(SmallDistrict().records())

    run = run_row(db, driver.sync(provider_id))

    assert _user_of(db, provider_id, "stu-1") == existing
    assert run["stats"]["users"]["matchedByEmail"] == 1
    with db.connect() as conn:
        name = conn.execute(text("SELECT given_name FROM users WHERE id = :id"), {"id": existing}).scalar_one()
    assert name == "Zoë1"  # the SIS now owns the record


def test_a_student_without_email_is_matched_by_student_number(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    existing = _existing_user(db, student_number="S0005")  # stu-5 has no email in the small district
    provider_id, _ = make_provider(SmallDistrict().records())

    run = run_row(db, driver.sync(provider_id))

    assert _user_of(db, provider_id, "stu-5") == existing
    assert run["stats"]["users"]["matchedByStudentNumber"] == 1


def test_a_blank_given_name_is_an_error_and_the_matched_person_keeps_their_name(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    existing = _existing_user(db, student_number="S0005")
    district = SmallDistrict()
    index = next(i for i, u in enumerate(district.users) if u.external_id == "stu-5")
    district.users[index] = replace(district.users[index], given_name="")
    provider_id, _ = make_provider(district.records())

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.PARTIAL
    with db.connect() as conn:
        error = conn.execute(
            text(
                "SELECT code, field, message, source, line FROM sis_sync_errors "
                "WHERE run_id = :r AND external_id = 'stu-5'"
            ),
            {"r": run["id"]},
        ).one()
        name = conn.execute(text("SELECT given_name FROM users WHERE id = :id"), {"id": existing}).scalar_one()
    assert (error.code, error.field, error.source, error.line) == ("missing_value", "given_name", "users.csv", 10)
    assert error.message == "given_name is required"
    assert name == "Existing"
    assert _user_of(db, provider_id, "stu-5") is None
    assert run["stats"]["users"]["errors"] == 1


def test_two_users_with_the_same_email_is_an_error_never_a_merge(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    _existing_user(db, email="s2@example.org")
    _existing_user(db, email="S2@example.org")
    provider_id, _ = make_provider(SmallDistrict().records())

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.PARTIAL
    assert _user_of(db, provider_id, "stu-2") is None
    with db.connect() as conn:
        error = conn.execute(
            text("SELECT code, message, source, line FROM sis_sync_errors WHERE run_id = :r AND external_id = 'stu-2'"),
            {"r": run["id"]},
        ).one()
    assert error.code == "ambiguous_match"
    assert "2 users have this email" in error.message
    assert (error.source, error.line) == ("users.csv", 7)
    # the student's enrollments cannot apply either, and say why
    assert run["stats"]["enrollments"]["errors"] == 2


def test_two_feed_records_matching_one_user_are_both_rejected(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    _existing_user(db, email="twin@example.org")
    district = SmallDistrict()
    district.users[3] = replace(district.users[3], email="twin@example.org")
    district.users[4] = replace(district.users[4], email="TWIN@example.org")
    provider_id, _ = make_provider(district.records())

    run = run_row(db, driver.sync(provider_id))

    assert _user_of(db, provider_id, district.users[3].external_id) is None
    assert _user_of(db, provider_id, district.users[4].external_id) is None
    assert run["stats"]["users"]["errors"] == 2


def test_with_create_users_off_unmatched_users_are_reported_not_created(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, _ = make_provider(SmallDistrict(students=3).records(), options={"createUsers": False})

    run = run_row(db, driver.sync(provider_id))

    assert run["stats"]["users"]["created"] == 0
    assert run["stats"]["users"]["errors"] == 6
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0


def test_matching_stays_within_the_tenant(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    other = _existing_user(db, email="s1@example.org", tenant="district-2")
    provider_id, _ = make_provider(SmallDistrict().records())

    driver.sync(provider_id)

    assert _user_of(db, provider_id, "stu-1") not in (None, other)


def test_a_re_keyed_record_keeps_the_same_user(driver: Driver, make_provider: MakeProvider, db: Engine) -> None:
    district = SmallDistrict()
    provider_id, dataset = make_provider(district.records())
    driver.sync(provider_id)
    first = _user_of(db, provider_id, "stu-1")
    users = dataset.items[EntityType.USER]
    index = next(i for i, u in enumerate(users) if u.external_id == "stu-1")
    users[index] = replace(users[index], external_id="stu-1-new")
    dataset.items[EntityType.ENROLLMENT] = [
        replace(e, user_external_id="stu-1-new") if isinstance(e, r.Enrollment) and e.user_external_id == "stu-1" else e
        for e in dataset.items[EntityType.ENROLLMENT]
    ]

    run = run_row(db, driver.sync(provider_id))

    assert _user_of(db, provider_id, "stu-1-new") == first
    assert run["stats"]["users"]["matchedByEmail"] == 1
    assert run["stats"]["users"]["deactivated"] == 1  # the old link
    with db.connect() as conn:
        assert conn.execute(text("SELECT active FROM users WHERE id = :i"), {"i": first}).scalar_one() is True
