"""Required fields are checked at stage, set-based: a record missing one is an error that changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, text

from libs.db.models.staging import STAGING_TABLES
from libs.enums import EntityType, SyncStatus
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import run_row

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]
STORE = {
    EntityType.SCHOOL: "schools",
    EntityType.TERM: "terms",
    EntityType.CLASS: "classes",
    EntityType.USER: "users",
    EntityType.ENROLLMENT: "enrollments",
}


def _stored(db: Engine, provider_id: uuid.UUID, entity: EntityType, external_id: str) -> dict[str, Any]:
    with db.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT e.*, l.active AS linked FROM {STORE[entity]} e JOIN sis_entity_links l ON l.entity_id = e.id "
                "WHERE l.provider_id = :p AND l.entity_type = :t AND l.external_id = :x"
            ),
            {"p": provider_id, "t": entity.value, "x": external_id},
        ).one()
    return dict(row._mapping)


# the canonical model's required fields (../shared/guide/canonical-model.md), spelled out here
# rather than read from the code under test
REQUIRED = {
    EntityType.SCHOOL: ("name",),
    EntityType.TERM: ("name", "type", "start_date", "end_date"),
    EntityType.CLASS: ("title", "school_external_id"),
    EntityType.USER: ("role", "given_name", "family_name"),
    EntityType.ENROLLMENT: ("class_external_id", "user_external_id", "role"),
}


@pytest.mark.parametrize(
    ("entity", "field"), [(e, f) for e, fields in REQUIRED.items() for f in fields], ids=lambda v: str(v)
)
def test_a_record_missing_a_required_field_is_an_error_and_changes_nothing(
    driver: Driver, make_provider: MakeProvider, db: Engine, entity: EntityType, field: str
) -> None:
    district = SmallDistrict()
    provider_id, dataset = make_provider(district.records())
    assert run_row(db, driver.sync(provider_id))["status"] == SyncStatus.SUCCESS
    record = dataset.items[entity][0]
    before = _stored(db, provider_id, entity, record.external_id)
    # blank as a source sends it: spaces in a text field, nothing in a date
    is_text = "date" not in str(STAGING_TABLES[entity].columns[field].type).lower()
    dataset.items[entity][0] = replace(record, **{field: "  " if is_text else None})  # type: ignore[arg-type]

    run = run_row(db, driver.sync(provider_id))

    assert run["status"] == SyncStatus.PARTIAL
    with db.connect() as conn:
        error = conn.execute(
            text("SELECT code, field, message FROM sis_sync_errors WHERE run_id = :r AND external_id = :x"),
            {"r": run["id"], "x": record.external_id},
        ).one()
    assert (error.code, error.field, error.message) == ("missing_value", field, f"{field} is required")
    assert run["stats"][entity.plural]["errors"] == 1
    # the stored record is as it was, and still active: a rejected row is not a departure
    assert _stored(db, provider_id, entity, record.external_id) == before
