"""The manifest decides per entity: full snapshot, delta, or untouched; status marks tombstones."""

from __future__ import annotations

from libs.connectors.base import FeedMode
from libs.enums import EntityType
from tests.connectors.oneroster_csv.conftest import ENROLLMENTS, ORGS, USERS, bulk_manifest, manifest

E = EntityType


def modes(result):
    return {entity: outcome.mode for entity, outcome in result.extraction.outcomes.items()}


def test_bulk_delta_and_absent_files_give_each_entity_its_feed_mode(make_package, read):
    files = {
        "manifest.csv": manifest(orgs="bulk", users="delta", enrollments="absent", classes="absent"),
        "orgs.csv": ORGS + "s1,,,North,school,,\n",
        "users.csv": USERS + "u1,active,2026-01-02T03:04:05.000Z,true,s1,student,,,A,B,,,,,,,,\n",
    }

    result = read(make_package(files))

    assert modes(result) == {
        E.SCHOOL: FeedMode.FULL,
        E.TERM: FeedMode.ABSENT,
        E.CLASS: FeedMode.ABSENT,
        E.USER: FeedMode.DELTA,
        E.ENROLLMENT: FeedMode.ABSENT,
    }
    assert all(outcome.complete for outcome in result.extraction.outcomes.values())


def test_tobedeleted_and_inactive_rows_of_a_delta_are_tombstones(make_package, read):
    files = {
        "manifest.csv": manifest(enrollments="delta"),
        "enrollments.csv": ENROLLMENTS
        + "e1,active,2026-01-02,c1,s1,u1,student,,,\n"
        + "e2,tobedeleted,2026-01-02,c1,s1,u2,student,,,\n"
        + "e3,INACTIVE,2026-01-02,,,,,,,\n",
    }

    result = read(make_package(files))

    assert [(r.external_id, r.tombstone) for r in result.records()] == [("e1", False), ("e2", True), ("e3", True)]
    assert result.records()[1].source_ref == "enrollments.csv:3"


def test_tombstone_rows_in_a_bulk_file_are_tombstones_too(make_package, read):
    files = {
        "manifest.csv": bulk_manifest("orgs", "users"),
        "orgs.csv": ORGS + "s1,tobedeleted,2026-01-02,North,school,,\nd1,tobedeleted,,District,district,,\n",
        "users.csv": USERS + "u1,inactive,2026-01-02,TRUE,s1,student,,,A,B,,,,,,,,\n",
    }

    result = read(make_package(files))

    assert [(r.entity_type, r.external_id, r.tombstone) for r in result.records()] == [
        (E.SCHOOL, "s1", True),
        (E.USER, "u1", True),
    ]
    assert modes(result)[E.USER] is FeedMode.FULL


def test_a_tombstone_needs_no_valid_content(make_package, read):
    files = {
        "manifest.csv": manifest(enrollments="delta"),
        "enrollments.csv": ENROLLMENTS + "e1,tobedeleted,2026-01-02,c1,s1,u1,not-a-role,maybe,yesterday,\n",
    }

    result = read(make_package(files))

    assert result.errors() == []
    assert [(r.external_id, r.tombstone) for r in result.records()] == [("e1", True)]


def test_manifest_only_package_means_nothing_changed(make_package, read):
    result = read(make_package({"manifest.csv": manifest(orgs="absent", users="absent")}))

    assert result.items == []
    assert set(modes(result).values()) == {FeedMode.ABSENT}
